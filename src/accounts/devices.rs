//! The device cookie (SPEC §9): a browser that signed in to an account keeps
//! a cookie naming the customer and a random device id, signed with a server
//! key; the device is remembered in `customer_devices`. Such a browser gets
//! past a lockout taken by failures from elsewhere, and signs in without a
//! new-device notice.

use crate::secrets::{random_token, secure_eq, token_hash};
use crate::state::AppState;
use crate::store::StoreResult;

/// The device cookie's base name for one account (one cookie per account).
pub fn cookie_name(customer_id: i64) -> String {
    format!("device_{customer_id}")
}

/// What a device cookie names, once its signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCookie {
    pub customer_id: i64,
    device_id: String,
}

impl DeviceCookie {
    /// A new device for the customer.
    pub fn new(customer_id: i64) -> DeviceCookie {
        DeviceCookie {
            customer_id,
            device_id: random_token(),
        }
    }

    /// `customer.device.signature`; anything else, or a wrong signature, is `None`.
    pub fn parse(state: &AppState, value: &str) -> Option<DeviceCookie> {
        let mut parts = value.splitn(3, '.');
        let (customer, device, signature) = (parts.next()?, parts.next()?, parts.next()?);
        let customer_id: i64 = customer.parse().ok()?;
        let expected = state.keys.device_mac(&format!("{customer_id}.{device}"));
        secure_eq(&expected, signature).then(|| DeviceCookie {
            customer_id,
            device_id: device.to_string(),
        })
    }

    /// The cookie's value.
    pub fn value(&self, state: &AppState) -> String {
        let named = format!("{}.{}", self.customer_id, self.device_id);
        format!("{named}.{}", state.keys.device_mac(&named))
    }

    /// What the table keeps: a hash, so a dump gives no cookie.
    pub fn hash(&self) -> String {
        token_hash(&self.device_id)
    }
}

/// The browser's device for `customer_id` among `cookie` (its device cookie
/// for that account, if it sent one), when it is signed and remembered.
pub async fn known_device(
    state: &AppState,
    customer_id: i64,
    cookie: Option<&str>,
) -> StoreResult<Option<DeviceCookie>> {
    let Some(device) = cookie
        .and_then(|value| DeviceCookie::parse(state, value))
        .filter(|d| d.customer_id == customer_id)
    else {
        return Ok(None);
    };
    Ok(state
        .db
        .is_known_device(customer_id, &device.hash())
        .await?
        .then_some(device))
}
