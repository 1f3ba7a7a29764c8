//! `WWW-Authenticate` challenges: how a registry wants to be authenticated.

use std::collections::BTreeMap;

/// How a registry asks for authentication, learnt from its `/v2/` answer or a 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// No authentication needed (`/v2/` answered 200).
    None,
    /// HTTP Basic authentication on every request.
    Basic,
    /// The token flow: get a bearer token from `realm` for `service` and the scopes needed.
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The `service` parameter to pass on.
        service: Option<String>,
        /// The scope the failing request needed (`repository:<name>:<actions>`), if given.
        scope: Option<String>,
    },
}

impl Challenge {
    /// The challenge from the `WWW-Authenticate` values of a 401, preferring Bearer
    /// over Basic; `None` when there is no challenge this client understands.
    pub(crate) fn parse<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
        let mut basic = false;
        for header in headers {
            for (scheme, params) in split_challenges(header) {
                match scheme.to_ascii_lowercase().as_str() {
                    "bearer" => {
                        if let Some(realm) = params.get("realm").filter(|r| !r.is_empty()) {
                            return Some(Challenge::Bearer {
                                realm: realm.clone(),
                                service: params.get("service").cloned(),
                                scope: params.get("scope").cloned(),
                            });
                        }
                    }
                    "basic" => basic = true,
                    _ => {}
                }
            }
        }
        basic.then_some(Challenge::Basic)
    }
}

/// Splits a header value into challenges: a scheme token followed by `key=value` pairs
/// (values optionally quoted with backslash escapes), challenges separated by commas.
fn split_challenges(header: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut out: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        let token_end = rest.find([' ', '\t', ',', '=']).unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = &rest[token_end..];
        if token.is_empty() {
            break;
        }
        if let Some(value) = after.strip_prefix('=') {
            // A parameter of the current challenge.
            let (value, remaining) = parse_value(value);
            if let Some((_, params)) = out.last_mut() {
                params.insert(token.to_ascii_lowercase(), value);
            }
            rest = remaining;
        } else {
            out.push((token.to_string(), BTreeMap::new()));
            rest = after;
        }
    }
    out
}

/// A quoted string or a token, and what follows it.
fn parse_value(s: &str) -> (String, &str) {
    let s = s.trim_start();
    if let Some(quoted) = s.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, next)) = chars.next() {
                        value.push(next);
                    }
                }
                '"' => return (value, &quoted[i + 1..]),
                c => value.push(c),
            }
        }
        (value, "")
    } else {
        let end = s.find([',', ' ', '\t']).unwrap_or(s.len());
        (s[..end].to_string(), &s[end..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_with_params() {
        let c = Challenge::parse([
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#,
        ]);
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull,push".into()),
            })
        );
    }

    #[test]
    fn basic_and_preference() {
        assert_eq!(
            Challenge::parse([r#"Basic realm="basic-realm""#]),
            Some(Challenge::Basic)
        );
        let c = Challenge::parse([
            r#"Basic realm="x", Bearer realm="http://t/token",error="insufficient_scope""#,
        ]);
        assert!(
            matches!(c, Some(Challenge::Bearer { ref realm, service: None, scope: None }) if realm == "http://t/token")
        );
        assert_eq!(Challenge::parse(["Negotiate"]), None);
        assert_eq!(
            Challenge::parse(["bearer realm=http://t/tok"])
                .map(|c| matches!(c, Challenge::Bearer { .. })),
            Some(true)
        );
        assert_eq!(Challenge::parse(Vec::<&str>::new()), None);
    }

    #[test]
    fn escapes_in_quoted_values() {
        let c = Challenge::parse([r#"Bearer realm="http://t/a\"b",service="s""#]);
        assert!(matches!(c, Some(Challenge::Bearer { ref realm, .. }) if realm == "http://t/a\"b"));
    }
}
