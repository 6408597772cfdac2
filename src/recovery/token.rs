/// A reset token as it arrives in a link or API call: parsed once, so malformed
/// input never reaches the database and is answered like an expired link.
#[derive(Clone)]
pub struct ResetToken(String);

impl ResetToken {
    pub fn parse(raw: &str) -> Option<ResetToken> {
        let valid = raw.len() == crate::secrets::TOKEN_LENGTH
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| ResetToken(raw.to_string()))
    }

    pub fn hash(&self) -> String {
        crate::secrets::token_hash(&self.0)
    }
}

impl std::fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetToken(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_tokens_parse() {
        let token = crate::secrets::random_token();
        assert!(ResetToken::parse(&token).is_some());
        assert!(ResetToken::parse(&token[..42]).is_none());
        assert!(ResetToken::parse(&format!("{}=", &token[..42])).is_none());
        assert!(ResetToken::parse("").is_none());
    }
}
