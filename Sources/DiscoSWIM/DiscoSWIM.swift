// DiscoSWIM: SWIM membership with Lifeguard as a pure core, and its UDP shell.
import DiscoCore
