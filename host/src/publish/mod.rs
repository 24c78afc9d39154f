//! Publishing: the post-target state machine and the jobs that drive it.
//!
//! ```text
//! draft → scheduled → queued → publishing → pending → published
//!                       ↑  │        │           │
//!                       └──┘        ├→ failed   └→ failed
//!                  (deferred:       ├→ in_doubt (outcome unknown, reconcile could not tell)
//!                 rate limit, …)    └→ paused   (account needs reconnect)
//! ```
//!
//! A publish whose outcome is unknown (timeout, crash, transient error after the request
//! may have been sent) is never re-sent blindly: the plugin's `reconcile` is asked first.

pub mod autofit;
pub mod handler;
pub mod limits;
pub mod status;
pub mod targets;
pub mod watchdog;
