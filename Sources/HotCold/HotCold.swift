// MARK: - HotCold

/// Hot/cold fail-over around the pure lease of `LeaseCore`: the shell that drives it and what
/// the application sees.
///
/// - ``HotColdLease`` is the shell: an actor whose ``HotColdLease/run()`` owns every task it
///   needs (the store's events, timers, proposals, hooks, the state file) and drives one
///   `LeaseHolder` and one `LeaseGrantor` with the node's monotonic clock.
/// - ``LeaseTableStore`` is where the replicated lease table lives: the node's replicated state,
///   later etcd. The shell proposes lease commands through it and observes what was applied.
/// - ``HotColdGate`` answers "may I act as hot, and with which token?" synchronously, reading the
///   clock at the moment of asking: the one question every write must ask first.
/// - ``FencingTokenMiddleware`` puts the token on requests to the upstream
///   (`Disco-Fencing-Token`, `Disco-Hot-Cold-State`); ``HotColdStateFile`` and ``HotColdHooks``
///   tell the application through a file and commands; ``HotColdAPI`` answers `GET /hot` and
///   `/readyz?hot`.
/// - ``HotColdConfiguration`` holds the settings, parsed from the `-hot-cold` flags by
///   ``HotColdFlags``.
public enum HotCold {}
