//! The operator's commands that change what the admin pages change:
//! `config get/set` and `admin reset-two-factor`. Each runs the same domain
//! rules as the pages and is audited as `cli`. An error is returned (and the
//! binary exits 1 with its message) with nothing changed.

use anyhow::{Context, bail};

use crate::accounts::{Email, two_factor};
use crate::audit;
use crate::config::ConfigCommand;
use crate::settings::keys;
use crate::state::AppState;
use crate::store::AccountTable;

/// `config get [KEY]` prints `key=value` lines; `config set KEY VALUE`
/// changes one and says what changed. Returns the text to print.
pub async fn config(state: &AppState, command: ConfigCommand) -> anyhow::Result<String> {
    match command {
        ConfigCommand::Get { key: None } => Ok(keys::all(&state.db)
            .await?
            .into_iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect()),
        ConfigCommand::Get { key: Some(key) } => {
            let value = keys::get(&state.db, &key).await?;
            Ok(format!("{key}={value}\n"))
        }
        ConfigCommand::Set { key, value } => {
            let entry = audit::cli_entry(state.now(), audit::SETTINGS, String::new());
            match keys::set(&state.db, &key, &value, entry).await? {
                Some(change) => Ok(format!("changed {change}\n")),
                None => Ok(format!("{key} is already {}\n", value.trim())),
            }
        }
    }
}

/// Removes the second factor of the administrator with `email`.
pub async fn reset_two_factor(state: &AppState, email: &str) -> anyhow::Result<String> {
    let parsed =
        Email::parse(email).map_err(|_| anyhow::anyhow!("{email:?} is not an email address"))?;
    let Some(credentials) = state
        .db
        .credentials_by_email_key(AccountTable::Admins, &parsed.key())
        .await?
    else {
        bail!("no administrator has the email address {email}");
    };
    let entry = audit::cli_entry(
        state.now(),
        audit::TWO_FACTOR_REMOVED,
        format!("{} (id {})", parsed.as_str(), credentials.id),
    );
    let removed = two_factor::remove(state, credentials.id, &entry)
        .await
        .context("cannot remove the second factor")?;
    Ok(if removed {
        format!(
            "two-factor sign-in removed for {}; their sessions ended, and they set it up again at their next sign-in",
            parsed.as_str()
        )
    } else {
        format!("{} had no second factor; nothing changed", parsed.as_str())
    })
}
