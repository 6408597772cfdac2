//! The customer's security timeline (SPEC §9): one place that writes it, in
//! the transaction of the change an event records. Never a token or a link.

use std::net::IpAddr;

use crate::store::{
    CustomerEventRow, CustomerMailRow, CustomerRow, Db, NewCustomerEvent, StoreResult, Tx,
};

/// What happened. `via`/`how`/`by` say where from, in a word or an
/// administrator's email address.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    ResetRequested { via: &'a str },
    ResetLinkOpened,
    PasswordChanged { how: &'a str },
    SignInFailed,
    Locked,
    Unlocked { by: &'a str },
    ForceSignIn { by: &'a str },
    TokenIssued,
    TokenRevoked { how: &'a str },
    SessionsEnded { how: &'a str },
    NewDeviceSignIn { browser: &'a str },
    NotMe,
}

impl Event<'_> {
    /// The stored kind; the timeline shows it through `event-<kind>`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ResetRequested { .. } => "reset_requested",
            Event::ResetLinkOpened => "reset_link_opened",
            Event::PasswordChanged { .. } => "password_changed",
            Event::SignInFailed => "sign_in_failed",
            Event::Locked => "locked",
            Event::Unlocked { .. } => "unlocked",
            Event::ForceSignIn { .. } => "force_sign_in",
            Event::TokenIssued => "token_issued",
            Event::TokenRevoked { .. } => "token_revoked",
            Event::SessionsEnded { .. } => "sessions_ended",
            Event::NewDeviceSignIn { .. } => "new_device_sign_in",
            Event::NotMe => "not_me",
        }
    }

    fn detail(&self) -> &str {
        match self {
            Event::ResetRequested { via } => via,
            Event::PasswordChanged { how } => how,
            Event::Unlocked { by } | Event::ForceSignIn { by } => by,
            Event::TokenRevoked { how } | Event::SessionsEnded { how } => how,
            Event::NewDeviceSignIn { browser } => browser,
            _ => "",
        }
    }
}

/// Writes `event` for the customer in the caller's transaction.
pub async fn record(
    tx: &mut Tx,
    customer_id: i64,
    now: i64,
    event: Event<'_>,
    ip: Option<IpAddr>,
) -> StoreResult<()> {
    let ip = ip.map(|ip| ip.to_string());
    tx.insert_customer_event(
        customer_id,
        now,
        event.kind(),
        event.detail(),
        ip.as_deref(),
    )
    .await
}

/// Writes one event per `(customer_id, at, event, client address)` in the
/// caller's transaction, in as few statements as the store can (a bulk job's
/// stretch).
pub async fn record_each(
    tx: &mut Tx,
    events: &[(i64, i64, Event<'_>, Option<IpAddr>)],
) -> StoreResult<()> {
    let ips: Vec<Option<String>> = events
        .iter()
        .map(|(.., ip)| ip.map(|ip| ip.to_string()))
        .collect();
    let rows: Vec<NewCustomerEvent<'_>> = events
        .iter()
        .zip(&ips)
        .map(|((customer_id, at, event, _), ip)| NewCustomerEvent {
            customer_id: *customer_id,
            at: *at,
            kind: event.kind(),
            detail: event.detail(),
            ip: ip.as_deref(),
        })
        .collect();
    tx.insert_customer_events(&rows).await
}

/// One line of the admin's view of a customer's security activity.
#[derive(Debug, Clone)]
pub enum TimelineEntry {
    Event(CustomerEventRow),
    Mail(CustomerMailRow),
}

impl TimelineEntry {
    pub fn at(&self) -> i64 {
        match self {
            TimelineEntry::Event(e) => e.at,
            TimelineEntry::Mail(m) => m.created_at,
        }
    }
}

/// Events and mails of the customer, newest first: page `page` (from 1) of
/// `size` entries, and whether an older page follows.
pub async fn timeline(
    db: &Db,
    customer: &CustomerRow,
    page: i64,
    size: i64,
) -> StoreResult<(Vec<TimelineEntry>, bool)> {
    let offset = (page.max(1) - 1) * size;
    // Each source's newest offset+size+1 hold every entry of this page.
    let reach = offset + size + 1;
    let mut entries: Vec<TimelineEntry> = db
        .customer_events(customer.id, reach, 0)
        .await?
        .into_iter()
        .map(TimelineEntry::Event)
        .chain(
            db.customer_mail(&customer.email, reach, 0)
                .await?
                .into_iter()
                .map(TimelineEntry::Mail),
        )
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.at()));
    let more = entries.len() as i64 > offset + size;
    let page = entries
        .into_iter()
        .skip(offset as usize)
        .take(size as usize)
        .collect();
    Ok((page, more))
}
