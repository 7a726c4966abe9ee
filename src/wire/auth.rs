//! Registry credentials as the API carries them: the JSON of `POST /auth`
//! and, base64url-encoded, the `X-Registry-Auth` header of pull and push.
//! The daemon uses them for one request and never stores them; `Debug`
//! hides the secrets so that they cannot reach a log.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The header pull and push carry the credentials in.
pub const REGISTRY_AUTH_HEADER: &str = "X-Registry-Auth";

/// Docker's `registry.AuthConfig`.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct AuthConfig {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// `base64(username:password)`, as docker's config.json keeps it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub serveraddress: String,
    /// A refresh token from an earlier login, used instead of a password.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub identitytoken: String,
    /// A bearer token to send as is.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub registrytoken: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthHeaderError {
    #[error("invalid X-Registry-Auth header: not base64")]
    Base64,
    #[error("invalid X-Registry-Auth header: not the JSON of a registry login")]
    Json,
}

impl AuthConfig {
    /// The `X-Registry-Auth` value: base64url (padded) of the JSON, as the
    /// docker CLI writes it.
    pub fn to_header(&self) -> String {
        URL_SAFE.encode(serde_json::to_vec(self).expect("AuthConfig serialises"))
    }

    /// Reads an `X-Registry-Auth` value. Padded or not, URL-safe or standard
    /// alphabet (older clients); an empty header or `{}` (`e30=`) is no
    /// credentials.
    pub fn from_header(value: &str) -> Result<AuthConfig, AuthHeaderError> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(AuthConfig::default());
        }
        let json = URL_SAFE
            .decode(value)
            .or_else(|_| URL_SAFE_NO_PAD.decode(value))
            .or_else(|_| STANDARD.decode(value))
            .map_err(|_| AuthHeaderError::Base64)?;
        let mut auth: AuthConfig = serde_json::from_slice(&json).map_err(|_| AuthHeaderError::Json)?;
        auth.fill_from_auth_field();
        Ok(auth)
    }

    /// Username and password from the `auth` field when they are not set.
    pub fn fill_from_auth_field(&mut self) {
        if !self.username.is_empty() || self.auth.is_empty() {
            return;
        }
        let Ok(decoded) = STANDARD.decode(self.auth.trim()) else {
            return;
        };
        if let Some((user, pass)) = String::from_utf8_lossy(&decoded).split_once(':') {
            self.username = user.to_string();
            self.password = pass.to_string();
        }
    }

    /// No username, token or identity: an anonymous request.
    pub fn is_anonymous(&self) -> bool {
        self.username.is_empty() && self.identitytoken.is_empty() && self.registrytoken.is_empty()
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |s: &String| if s.is_empty() { "" } else { "<hidden>" };
        f.debug_struct("AuthConfig")
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field("auth", &hidden(&self.auth))
            .field("serveraddress", &self.serveraddress)
            .field("identitytoken", &hidden(&self.identitytoken))
            .field("registrytoken", &hidden(&self.registrytoken))
            .finish()
    }
}

/// The reply to `POST /auth`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct AuthResponse {
    pub status: String,
    pub identity_token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> AuthConfig {
        AuthConfig {
            username: "alice".into(),
            password: "s3cret/+?".into(),
            serveraddress: "127.0.0.1:5000".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_header_round_trips_in_every_alphabet_docker_clients_use() {
        let a = alice();
        assert_eq!(AuthConfig::from_header(&a.to_header()).unwrap(), a);
        let json = serde_json::to_vec(&a).unwrap();
        assert_eq!(AuthConfig::from_header(&URL_SAFE_NO_PAD.encode(&json)).unwrap(), a);
        assert_eq!(AuthConfig::from_header(&STANDARD.encode(&json)).unwrap(), a);
    }

    #[test]
    fn empty_headers_are_anonymous_and_garbage_is_refused() {
        assert!(AuthConfig::from_header("").unwrap().is_anonymous());
        assert!(AuthConfig::from_header("e30=").unwrap().is_anonymous());
        assert_eq!(AuthConfig::from_header("%%%"), Err(AuthHeaderError::Base64));
        assert_eq!(
            AuthConfig::from_header(&URL_SAFE.encode(b"[1]")),
            Err(AuthHeaderError::Json)
        );
    }

    #[test]
    fn the_auth_field_gives_username_and_password() {
        let a = AuthConfig {
            auth: STANDARD.encode("bob:pa:ss"),
            ..Default::default()
        };
        let back = AuthConfig::from_header(&a.to_header()).unwrap();
        assert_eq!((back.username.as_str(), back.password.as_str()), ("bob", "pa:ss"));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let shown = format!("{:?}", alice());
        assert!(shown.contains("alice"));
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
