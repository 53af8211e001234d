//! Typed request and answer models. Answers tolerate unknown and `null` fields: what is not
//! modelled is kept in `extra`.

use auth_core::{Error, ErrorKind, Page, provider::PageInfo};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An SMS to send through `POST /_rest/v4/app/sms/send`.
///
/// ```
/// let sms = intelepeer::SendSms::new("+13035550100", "+13035550199", "hello");
/// assert_eq!(sms.to, "+13035550199");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SendSms {
    /// Sending number (one of your IntelePeer numbers).
    pub from: String,
    /// Recipient number.
    pub to: String,
    /// Message text.
    pub text: String,
}

impl SendSms {
    /// An SMS from `from` to `to` saying `text` (numbers as IntelePeer takes them, e.g.
    /// E.164 `+13035550100`).
    pub fn new(from: impl Into<String>, to: impl Into<String>, text: impl Into<String>) -> Self {
        SendSms {
            from: from.into(),
            to: to.into(),
            text: text.into(),
        }
    }

    /// Refuse an SMS the service would reject anyway: an empty `from`, `to` or `text`.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        for (name, value) in [("from", &self.from), ("to", &self.to), ("text", &self.text)] {
            if value.trim().is_empty() {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("sms field {name} is empty"),
                ));
            }
        }
        Ok(())
    }
}

/// What the SMS API answered to a send.
///
/// ```
/// let r: intelepeer::SmsReceipt = serde_json::from_str(r#"{"messageId":"m1","status":null,"x":1}"#)?;
/// assert_eq!(r.message_id.as_deref(), Some("m1"));
/// assert!(r.extra.contains_key("x"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[non_exhaustive]
pub struct SmsReceipt {
    /// The message id, when the service returns one (`messageId`, `msgId` or `id`).
    #[serde(
        default,
        alias = "msgId",
        alias = "msg_id",
        alias = "id",
        deserialize_with = "auth_core::lenient::string_or_number"
    )]
    #[serde(rename = "messageId")]
    pub message_id: Option<String>,
    /// The delivery status the service reported.
    #[serde(default)]
    pub status: Option<String>,
    /// Sending number as the service echoed it.
    #[serde(default)]
    pub from: Option<String>,
    /// Recipient number as the service echoed it.
    #[serde(default)]
    pub to: Option<String>,
    /// Every other field of the answer.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One account of the Customer Portal's `/_rest/v4/my/accounts`.
///
/// ```
/// let a: intelepeer::Account = serde_json::from_str(r#"{"id":42,"name":null}"#)?;
/// assert_eq!(a.id.as_deref(), Some("42"));
/// assert_eq!(a.name, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[non_exhaustive]
pub struct Account {
    /// Account id (a number or a string on the wire; kept as text).
    #[serde(
        default,
        alias = "accountId",
        deserialize_with = "auth_core::lenient::string_or_number"
    )]
    pub id: Option<String>,
    /// Account name.
    #[serde(default, alias = "accountName")]
    pub name: Option<String>,
    /// Account status.
    #[serde(default)]
    pub status: Option<String>,
    /// Every other field of the account.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Keys under which a listing's items may arrive when the answer is an object.
const ITEM_KEYS: &[&str] = &["accounts", "items", "data", "results", "records"];

/// Read one page of a listing that may be a bare JSON array or an object holding the array
/// (under `accounts`, `items`, `data`, `results` or `records`) beside paging fields
/// (`page`, `pageSize`, `total`/`totalCount`/`count`, `totalPages`).
///
/// The next page is decided by [`PageInfo::next_after`]: `page + 1` while the server's
/// totals say there is one; without totals, while the page came back full.
pub(crate) fn parse_page<T: serde::de::DeserializeOwned>(
    body: Value,
    page: u64,
    page_size: u64,
) -> Result<Page<T>, Error> {
    let bad = |what: &str| Error::new(ErrorKind::BadResponse, what.to_owned());
    let (items, meta) = match body {
        Value::Array(items) => (items, Map::new()),
        Value::Object(mut map) => {
            let key = ITEM_KEYS
                .iter()
                .find(|k| matches!(map.get(**k), Some(Value::Array(_))))
                .ok_or_else(|| bad("listing answer holds no array of items"))?;
            let Some(Value::Array(items)) = map.remove(*key) else {
                return Err(bad("listing answer holds no array of items"));
            };
            (items, map)
        }
        _ => return Err(bad("listing answer is neither an array nor an object")),
    };
    let mut info = PageInfo::from_json_map(&meta)?;
    info.page.get_or_insert(page);
    info.page_size.get_or_insert(page_size);
    let items: Vec<T> = items
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()
        .map_err(|e| bad("listing item has an unexpected shape").with_source(e))?;
    let next = info.next_after(page, items.len());
    Ok(Page::new(items, info, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::PageToken;
    use serde_json::json;

    #[test]
    fn pages_from_object_with_totals() {
        let body = json!({"page":1,"pageSize":2,"total":3,"accounts":[{"id":1},{"id":"2"}]});
        let p: Page<Account> = parse_page(body, 1, 2).unwrap();
        assert_eq!(p.items.len(), 2);
        assert_eq!(p.next, Some(PageToken::Number(2)));
        let body = json!({"page":"2","pageSize":2,"totalCount":3,"data":[{"id":3}]});
        let p: Page<Account> = parse_page(body, 2, 2).unwrap();
        assert_eq!(p.next, None);
        assert_eq!(p.info.total_items, Some(3));
    }

    #[test]
    fn pages_from_bare_array_use_fullness() {
        let p: Page<Account> = parse_page(json!([{"id":1},{"id":2}]), 4, 2).unwrap();
        assert_eq!(p.next, Some(PageToken::Number(5)));
        let p: Page<Account> = parse_page(json!([{"id":1}]), 4, 2).unwrap();
        assert_eq!(p.next, None);
        let p: Page<Account> = parse_page(json!([]), 1, 2).unwrap();
        assert_eq!(p.next, None);
    }

    #[test]
    fn malformed_listings_are_typed_errors() {
        for body in [json!("x"), json!({"accounts": "no"}), json!([1, 2])] {
            let e = parse_page::<Account>(body, 1, 10).unwrap_err();
            assert!(e.is_bad_response());
        }
    }

    #[test]
    fn empty_sms_fields_are_invalid_input() {
        assert!(
            SendSms::new("", "+1", "x")
                .validate()
                .unwrap_err()
                .is_invalid_input()
        );
        assert!(SendSms::new("+1", "+2", " ").validate().is_err());
        assert!(SendSms::new("+1", "+2", "ok").validate().is_ok());
    }
}
