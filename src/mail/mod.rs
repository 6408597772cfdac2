//! Email: rendering (askama, text and HTML, in the customer's language), the
//! outbox the messages wait in, and the worker that delivers them.

mod bulk_rate;
mod compose;
mod transport;
mod worker;

pub use compose::{admin_activation, new_device, password_changed, reset_link};
pub use transport::{SendError, Transport};
pub use worker::{MailWorker, backoff_seconds};
