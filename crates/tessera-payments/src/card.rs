//! Card checks shared by providers: format, Luhn, CVC, expiry; and the sandbox's test cards.

use crate::{Card, DeclineCode, PaymentError};

/// A card whose number, CVC and expiry month are well formed.
#[derive(Debug)]
pub(crate) struct CheckedCard {
    /// The number without spaces.
    pub digits: String,
    /// The expiry year with two-digit years read as 20YY.
    pub exp_year: u32,
}

/// Checks the format of the card (not its expiry date, which is a decline, not an error).
pub(crate) fn check_format(card: &Card) -> Result<CheckedCard, PaymentError> {
    let mut digits = String::with_capacity(19);
    for (i, c) in card.number.chars().enumerate() {
        match c {
            ' ' => {}
            '0'..='9' => digits.push(c),
            _ => {
                return Err(PaymentError::InvalidCard(format!(
                    "card number may contain only digits and spaces; found {c:?} at position {}",
                    i + 1
                )))
            }
        }
    }
    if digits.is_empty() {
        return Err(PaymentError::InvalidCard("card number is empty".into()));
    }
    if !(13..=19).contains(&digits.len()) {
        return Err(PaymentError::InvalidCard(format!("card number has {} digits; expected 13 to 19", digits.len())));
    }
    if !luhn_valid(&digits) {
        return Err(PaymentError::InvalidCard("card number fails the Luhn check; a digit is probably mistyped".into()));
    }
    let cvc_ok = (3..=4).contains(&card.cvc.len()) && card.cvc.bytes().all(|b| b.is_ascii_digit());
    if !cvc_ok {
        return Err(PaymentError::InvalidCard(format!(
            "CVC must be 3 or 4 digits; got {} character(s)",
            card.cvc.chars().count()
        )));
    }
    if !(1..=12).contains(&card.exp_month) {
        return Err(PaymentError::InvalidCard(format!("expiry month {} is not between 1 and 12", card.exp_month)));
    }
    let exp_year = if card.exp_year < 100 { 2000 + card.exp_year } else { card.exp_year };
    Ok(CheckedCard { digits, exp_year })
}

/// Whether a card expiring at the end of `exp_month`/`exp_year` has expired at `now`.
pub(crate) fn is_expired(exp_year: u32, exp_month: u32, now: time::OffsetDateTime) -> bool {
    let now_year = i64::from(now.year());
    let now_month = u8::from(now.month()) as u32;
    (i64::from(exp_year), exp_month) < (now_year, now_month)
}

/// The Luhn (mod 10) check over a string of ASCII digits.
pub(crate) fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// What the sandbox does with a well-formed, unexpired card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    Approve,
    Decline(DeclineCode),
    Slow,
    LostAnswer,
    ProcessingError,
}

pub(crate) fn sandbox_behaviour(digits: &str) -> Behaviour {
    match digits {
        "4000000000000002" => Behaviour::Decline(DeclineCode::Generic),
        "4000000000009995" => Behaviour::Decline(DeclineCode::InsufficientFunds),
        "4000000000000069" => Behaviour::Decline(DeclineCode::ExpiredCard),
        "4000000000000127" => Behaviour::Decline(DeclineCode::IncorrectCvc),
        "4100000000000019" => Behaviour::Decline(DeclineCode::Fraudulent),
        "4000000000000077" => Behaviour::Slow,
        "4000000000000101" => Behaviour::LostAnswer,
        "4000000000000119" => Behaviour::ProcessingError,
        _ => Behaviour::Approve,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cards;

    #[test]
    fn every_test_card_passes_luhn() {
        for n in [
            test_cards::SUCCESS,
            test_cards::DECLINED,
            test_cards::INSUFFICIENT_FUNDS,
            test_cards::EXPIRED,
            test_cards::INCORRECT_CVC,
            test_cards::FRAUDULENT,
            test_cards::SLOW,
            test_cards::LOST_ANSWER,
            test_cards::PROCESSING_ERROR,
        ] {
            assert!(luhn_valid(&n.replace(' ', "")), "{n}");
        }
    }

    #[test]
    fn luhn_rejects_a_typo() {
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
        assert!(!luhn_valid("4242424242424241"));
    }

    #[test]
    fn expiry_is_end_of_month() {
        let now = time::macros::datetime!(2026-05-31 23:59 UTC);
        assert!(!is_expired(2026, 5, now));
        assert!(is_expired(2026, 4, now));
        assert!(is_expired(2025, 12, now));
        assert!(!is_expired(2027, 1, now));
    }
}
