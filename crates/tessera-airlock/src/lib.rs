//! The purchase airlock: the pure logic that stands between a flood of fans and checkout.
//!
//! When a mega-event goes on sale, demand exceeds what the shop can serve by orders of magnitude,
//! and whoever reaches checkout first wins. This crate decides who goes through, in which order,
//! how fast, and whom to slow down or turn away. The HTTP layer calls it on every request; it
//! owns no sockets, files, clocks or threads, so every decision is a function of its arguments
//! (`now_ms` unix milliseconds, or `now_ns` from a monotonic clock for rate limits) and can be
//! tested, replayed and simulated exactly. It must never depend on an async runtime, a database
//! or HTTP types. Every structure is bounded and safe to share between threads.
//!
//! - [`room`]: the waiting room of one sale phase. Fans who arrive before the opening are
//!   shuffled once, at the opening, with a secret seed ("randomise at event start", as Queue-it
//!   and Cloudflare's waiting room do), so refreshing at 9:59:59 or joining a thousand times buys
//!   nothing; later arrivals queue first come, first served. Admission advances one counter at a
//!   paced rate, capped by how many fans are in checkout, and optionally follows the shop's
//!   measured latency (AIMD). Per fan the server keeps one small entry; what a fan sees is
//!   arithmetic on counters.
//! - [`shuffle`](mod@shuffle): the seeded, unbiased, reproducible Fisher–Yates shuffle behind that order,
//!   with a statistical test that can fail.
//! - [`gcra`]: per-key rate limits with the Generic Cell Rate Algorithm, as Tony Finch describes
//!   it ("leaky buckets without the buckets"): one timestamp per key, exact retry-after, sharded
//!   for many threads, failing closed rather than growing under a flood of keys.
//! - [`blocklist`]: decisions from security operations (throttle, challenge, block an address,
//!   a network or an account, until a deadline), checked in constant time per request.
//! - [`pow`]: a stateless proof-of-work challenge compatible with ALTCHA v1 (HMAC-signed
//!   SHA-256 puzzles) whose solutions are bound to an account and expire, a replay guard, and a
//!   difficulty that grows with the join rate; it makes each extra bot join cost CPU time.
//! - [`signin`]: per-account sign-in throttling with growing waits, and a budget of its own for
//!   each device that signed in before, so that strangers' guessing never locks the owner out.
//! - [`net`]: addresses reduced to the networks (/24, /48) that limits and blocks apply to.

pub mod blocklist;
pub mod gcra;
pub mod net;
pub mod pow;
pub mod room;
pub mod shuffle;
pub mod signin;

pub use blocklist::{BlockList, Decision, DecisionError, Kind, Scope, Verdict};
pub use gcra::{Denied, KeyedLimiter, Quota};
pub use net::{canonical, network_of, Network};
pub use pow::{solve, Challenge, Difficulty, Pow, PowError, ReplayGuard, Solution, SolutionId};
pub use room::{Joined, Place, Room, RoomConfig, RoomError, RoomStats, Status};
pub use shuffle::shuffle;
pub use signin::{Alarm, Budget, Gate, SignInGuard, SignInPolicy};
