//! Fault injection for crash tests: `ESKER_FAILPOINT=NAME[:N]` aborts the process (like
//! `kill -9`: no unwinding, no cleanup) the N-th time (default 1st) point NAME is reached.
//! `ESKER_FAILPOINT=NAME[:N]:panic` panics there instead, as a bug would. On the main thread
//! the panic unwinds to `main`, which exits with status 101; in a pipeline thread it is
//! caught and reported as that thread's failure (a packer's panic fails its bundle).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

struct Armed {
    name: String,
    at: u64,
    panic: bool,
    seen: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let text = crate::config::var(crate::config::FAILPOINT)?;
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
