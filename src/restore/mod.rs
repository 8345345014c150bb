//! Getting bytes back out of bundles: which byte ranges to ask a store for, and writing the
//! files they hold safely under a target folder. Both `retrieve` (estimates, online
//! stores) and `poll` (restored bundles) use it.

pub mod extract;
pub mod ranges;
pub mod tree;
