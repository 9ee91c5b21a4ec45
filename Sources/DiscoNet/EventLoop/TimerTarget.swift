// MARK: - What a timer's action reaches

/// A strong reference a timer's action goes through, cleared by its owner when it ends.
///
/// The alternative, capturing `[weak self]`, gives the object a side table for the rest of its
/// life, and then every retain and release of it takes the runtime's slow path: measurable for
/// an object touched on every request (a connection, its transport). The owner holds one box,
/// each timer action captures the box, and the owner sets ``target`` to nil when it closes, so a
/// cancelled timer still queued (cancellation is lazy, see `TimerQueue`) keeps only the box,
/// not the object. Loop-confined, like the timers.
final class TimerTarget<Target: AnyObject> {
    var target: Target?

    init(_ target: Target) {
        self.target = target
    }
}
