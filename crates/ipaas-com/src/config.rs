//! Where requests go: environments (base URLs), the per-API base paths, and URL building as
//! `{base_url}/{base_path}/{version}/{endpoint}`.

use std::fmt;

use auth_core::{Error, ErrorKind};
use url::Url;

/// The API version used when a request names none.
pub(crate) const DEFAULT_VERSION: &str = "v2";

/// An iPaaS.com environment, i.e. a base URL.
///
/// ```
/// use ipaas_com::Environment;
/// assert_eq!(Environment::Production.base_url(), "https://api.ipaas.com");
/// assert_eq!(Environment::Custom("http://127.0.0.1:9".into()).base_url(), "http://127.0.0.1:9");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Environment {
    /// `https://api.ipaas.com`.
    #[default]
    Production,
    /// `https://stagingapi.ipaas.com`.
    Staging,
    /// `https://devapi.ipaas.com`.
    Development,
    /// Any other base URL (a proxy, a sandbox).
    Custom(String),
}

impl Environment {
    /// The environment's base URL.
    ///
    /// ```
    /// assert_eq!(ipaas_com::Environment::Staging.base_url(), "https://stagingapi.ipaas.com");
    /// ```
    pub fn base_url(&self) -> &str {
        match self {
            Environment::Production => "https://api.ipaas.com",
            Environment::Staging => "https://stagingapi.ipaas.com",
            Environment::Development => "https://devapi.ipaas.com",
            Environment::Custom(url) => url,
        }
    }
}

/// One of iPaaS.com's APIs, each served under its own base path.
///
/// ```
/// use ipaas_com::Api;
/// assert_eq!(Api::Sso.base_path(), "sso");
/// assert_eq!(Api::from("products"), Api::Products);
/// assert_eq!(Api::from("reports").base_path(), "reports");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Api {
    /// `sso`: login, refresh, users, companies.
    Sso,
    /// `subscriptions`.
    Subscriptions,
    /// `integrations`, the older name of the subscriptions API.
    Integrations,
    /// `integrators`.
    Integrators,
    /// `hookapi`.
    HookApi,
    /// `listener`.
    Listener,
    /// `products`.
    Products,
    /// `customers`.
    Customers,
    /// `giftcards`.
    GiftCards,
    /// `transactions`.
    Transactions,
    /// `employees`.
    Employees,
    /// `messages`.
    Messages,
    /// A base path not listed above.
    Other(String),
}

impl Api {
    /// The base path segment.
    ///
    /// ```
    /// assert_eq!(ipaas_com::Api::GiftCards.base_path(), "giftcards");
    /// ```
    pub fn base_path(&self) -> &str {
        match self {
            Api::Sso => "sso",
            Api::Subscriptions => "subscriptions",
            Api::Integrations => "integrations",
            Api::Integrators => "integrators",
            Api::HookApi => "hookapi",
            Api::Listener => "listener",
            Api::Products => "products",
            Api::Customers => "customers",
            Api::GiftCards => "giftcards",
            Api::Transactions => "transactions",
            Api::Employees => "employees",
            Api::Messages => "messages",
            Api::Other(p) => p,
        }
    }
}

impl From<&str> for Api {
    fn from(s: &str) -> Self {
        let trimmed = s.trim_matches('/');
        match trimmed.to_ascii_lowercase().as_str() {
            "sso" => Api::Sso,
            "subscriptions" => Api::Subscriptions,
            "integrations" => Api::Integrations,
            "integrators" => Api::Integrators,
            "hookapi" => Api::HookApi,
            "listener" => Api::Listener,
            "products" => Api::Products,
            "customers" => Api::Customers,
            "giftcards" => Api::GiftCards,
            "transactions" => Api::Transactions,
            "employees" => Api::Employees,
            "messages" => Api::Messages,
            _ => Api::Other(trimmed.to_owned()),
        }
    }
}

impl From<String> for Api {
    fn from(s: String) -> Self {
        Api::from(s.as_str())
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base_path())
    }
}

/// Parse and check a base URL.
pub(crate) fn parse_base_url(raw: &str) -> Result<Url, Error> {
    let url = Url::parse(raw.trim())
        .map_err(|e| Error::new(ErrorKind::Config, "base url is not a valid url").with_source(e))?;
    if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
        return Err(Error::new(
            ErrorKind::Config,
            "base url must be an http or https url",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::new(
            ErrorKind::Config,
            "base url must not carry a query or fragment",
        ));
    }
    // Refused here, at build(), rather than at the first call.
    auth_core::http::ensure_secure(&url)?;
    Ok(url)
}

/// `{base}/{base_path}/{version}/{endpoint}`; each endpoint segment is percent-encoded, so
/// an id holding `/` or `?` cannot change the route.
pub(crate) fn build_url(
    base: &Url,
    api: &Api,
    version: &str,
    endpoint: &[&str],
) -> Result<Url, Error> {
    let mut url = base.clone();
    {
        let mut segs = url
            .path_segments_mut()
            .map_err(|()| Error::new(ErrorKind::Config, "base url cannot carry a path"))?;
        segs.pop_if_empty();
        segs.extend(api.base_path().split('/').filter(|s| !s.is_empty()));
        segs.push(version.trim_matches('/'));
        for part in endpoint {
            segs.push(part);
        }
    }
    Ok(url)
}

/// Split a caller's `"User/664/Companies"` endpoint into segments.
pub(crate) fn split_endpoint(endpoint: &str) -> Vec<&str> {
    endpoint.split('/').filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_pattern() {
        let base = parse_base_url("https://api.ipaas.com").unwrap();
        let u = build_url(&base, &Api::Sso, "v2", &split_endpoint("/Auth/Login")).unwrap();
        assert_eq!(u.as_str(), "https://api.ipaas.com/sso/v2/Auth/Login");
        let prefixed = parse_base_url("http://127.0.0.1:8080/proxy/").unwrap();
        let u = build_url(&prefixed, &Api::Products, "v1", &["Product", "a/b?c"]).unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:8080/proxy/products/v1/Product/a%2Fb%3Fc"
        );
    }

    #[test]
    fn bad_base_urls_are_config_errors() {
        for bad in ["", "not a url", "mailto:x@y.z", "ftp://x", "https://x/?q=1"] {
            assert!(parse_base_url(bad).unwrap_err().is_config(), "{bad}");
        }
    }
}
