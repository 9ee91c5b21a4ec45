// SWIMCore: SWIM membership with Lifeguard as a pure core, plus its wire encoding. Depends on
// DiscoCore only; DiscoSWIM is the shell around it.
//
// `SWIM.Instance` is a value type: every input (a timer firing, a received packet, a join,
// a leave, a push-pull result) is a mutating method that takes the current time and returns
// the effects the shell must perform (packets to send, timers to arm, member events, push-pull
// exchanges to start). It never reads a clock, opens a socket or uses system randomness.

/// Namespace for the SWIM membership protocol.
public enum SWIM {}
