//! Fault injection for crash tests: `ESKER_FAILPOINT=NAME[:N]` aborts the process (like
//! `kill -9`: no unwinding, no cleanup) the N-th time (default 1st) point NAME is reached.
//! `ESKER_FAILPOINT=NAME[:N]:panic` panics there instead, as a bug would. On the main thread
//! the panic unwinds to `main`, which exits with status 101; in a pipeline thread it is
//! caught and reported as that thread's failure (a packer's panic fails its bundle).
//!
//! The points exist only in builds with the `failpoints` feature, which the crash tests
//! use; in any other build [`hit`] is empty and the variable is ignored.

#[cfg(feature = "failpoints")]
use std::sync::OnceLock;
#[cfg(feature = "failpoints")]
use std::sync::atomic::{AtomicU64, Ordering};

/// The variable that arms a failpoint.
pub const FAILPOINT: &str = "ESKER_FAILPOINT";

/// Marks point `name`: nothing, in a build without the `failpoints` feature.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(name: &str) {
    let _ = name;
}

#[cfg(feature = "failpoints")]
struct Armed {
    name: String,
    at: u64,
    panic: bool,
    seen: AtomicU64,
}

#[cfg(feature = "failpoints")]
fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let text = std::env::var(FAILPOINT).ok().filter(|text| !text.is_empty())?;
            let (text, panic) = match text.strip_suffix(":panic") {
                Some(rest) => (rest.to_string(), true),
                None => (text, false),
            };
            let (name, at) = match text.split_once(':') {
                Some((name, count)) => (name.to_string(), count.parse().ok()?),
                None => (text, 1),
            };
            Some(Armed { name, at, panic, seen: AtomicU64::new(0) })
        })
        .as_ref()
}

#[cfg(feature = "failpoints")]
/// Marks point `name`; aborts the process (or panics) if a test armed it.
pub fn hit(name: &str) {
    if let Some(armed) = armed()
        && armed.name == name
        && armed.seen.fetch_add(1, Ordering::SeqCst) + 1 == armed.at
    {
        if armed.panic {
            panic!("failpoint {name} reached");
        }
        eprintln!("esker: failpoint {name} reached, aborting");
        std::process::abort();
    }
}
