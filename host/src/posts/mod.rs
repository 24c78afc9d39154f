//! Posts: base content, per-platform variants and targets (connected accounts), and the
//! checks of each target against its platform before anything is published.

pub mod accounts;
pub mod check;
pub mod content;
pub mod import;
pub mod recurrence;
pub mod schedule;
pub mod slots;
pub mod validation;
