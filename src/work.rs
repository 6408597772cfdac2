//! A use case's unit of work: the domain opens one transaction, composes the
//! store's single-purpose statements on it, and commits. What must happen only
//! after a commit (waking the mail worker, counting queued mail) happens here,
//! in one place, so no use case can forget it or do it for a rolled-back change.

use crate::state::AppState;
use crate::store::{Db, MailPriority, NewMail, StoreResult, Tx};

pub struct Work<'a> {
    state: &'a AppState,
    tx: Tx,
    queued_mail: Vec<&'static str>,
    mail_priority: MailPriority,
}

impl<'a> Work<'a> {
    pub async fn begin(state: &'a AppState) -> StoreResult<Work<'a>> {
        Work::begin_on(state, &state.db).await
    }

    /// Work on a pool of the caller's own (`Db::dedicated`) on the same database.
    pub async fn begin_on(state: &'a AppState, db: &Db) -> StoreResult<Work<'a>> {
        Ok(Work {
            state,
            tx: db.begin().await?,
            queued_mail: Vec::new(),
            mail_priority: MailPriority::Single,
        })
    }

    /// Work for a bulk job: its mail waits behind single requests' mail.
    pub async fn begin_bulk(state: &'a AppState) -> StoreResult<Work<'a>> {
        let mut work = Work::begin(state).await?;
        work.mail_priority = MailPriority::Bulk;
        Ok(work)
    }

    /// The transaction, for the store's statements.
    pub fn tx(&mut self) -> &mut Tx {
        &mut self.tx
    }

    /// Queues `mail` in this transaction; it is sent once the work commits.
    pub async fn queue_mail(&mut self, mail: &NewMail) -> StoreResult<()> {
        self.tx
            .enqueue_mail(mail, self.mail_priority, self.state.now())
            .await?;
        self.queued_mail.push(mail.kind);
        Ok(())
    }

    /// Several messages at once (a bulk job's stretch).
    pub async fn queue_mails(&mut self, mails: &[&NewMail]) -> StoreResult<()> {
        self.tx
            .enqueue_mails(mails, self.mail_priority, self.state.now())
            .await?;
        self.queued_mail.extend(mails.iter().map(|m| m.kind));
        Ok(())
    }

    /// Commits, then wakes the mail worker and counts what was queued.
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        for kind in &self.queued_mail {
            metrics::counter!("shop_mail_queued_total", "kind" => *kind).increment(1);
        }
        if !self.queued_mail.is_empty() {
            self.state.mail_queued.notify_one();
        }
        Ok(())
    }
}
