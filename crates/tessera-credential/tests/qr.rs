//! The QR text form, entrance codes and the ticket id layout.

use proptest::prelude::*;
use tessera_credential::fixture::{verify_with, Fixture};
use tessera_credential::*;

#[test]
fn entrance_codes_from_zone_names() {
    assert_eq!(entrance_code("Gate A"), "Gate-A");
    assert_eq!(entrance_code("G4"), "G4");
    assert_eq!(entrance_code("Tribune Nord  Est"), "Tribune-Nord--Es");
    assert_eq!(entrance_code("Porte É\t1"), "Porte-1");
    assert_eq!(entrance_code("Entrée"), "Entre");
    assert_eq!(entrance_code(""), "");
    assert_eq!(entrance_code("ééé"), "");
    assert_eq!(entrance_code(&"x".repeat(40)).len(), MAX_ENTRANCE_LEN);
}

#[test]
fn ticket_ids_split_and_join() {
    let id = ticket_id_bytes(42, 3);
    assert_eq!(&id[..8], &42i64.to_be_bytes());
    assert_eq!(&id[8..], &3i64.to_be_bytes());
    assert_eq!(split_ticket_id(&id), (42, 3));
    assert_eq!(split_ticket_id(&ticket_id_bytes(i64::MIN, -1)), (i64::MIN, -1));
    assert_eq!(split_ticket_id(&ticket_id_bytes(i64::MAX, 0)), (i64::MAX, 0));
}

#[test]
fn a_code_survives_its_qr_text() {
    let f = Fixture::new(1);
    let code = f.code();
    let text = qr_text(&code);
    assert!(text.starts_with("T1:"));
    // Every character is in the QR alphanumeric alphabet, so the QR code stays in that mode.
    assert!(text.bytes().all(|c| b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(&c)));
    assert!(text.len() <= 2 * MAX_CODE_LEN);
    for line in [text.clone(), format!("{text}\r\n"), format!("{text}\n"), format!("{text}  \r")] {
        let decoded = code_from_qr_text(&line).unwrap();
        assert_eq!(decoded, code);
        assert!(verify_with(&f, &decoded).is_valid());
    }
}

#[test]
fn qr_text_refusals() {
    assert_eq!(code_from_qr_text("BB8"), Err(QrError::WrongPrefix));
    assert_eq!(code_from_qr_text("t1:BB8"), Err(QrError::WrongPrefix));
    assert_eq!(code_from_qr_text("B1:BB8"), Err(QrError::WrongPrefix));
    assert_eq!(code_from_qr_text(" T1:BB8"), Err(QrError::WrongPrefix));
    assert_eq!(code_from_qr_text("T1:GGW"), Err(QrError::Base45(base45::Base45Error::OutOfRange(0))));
    assert_eq!(code_from_qr_text("T1:bb8"), Err(QrError::Base45(base45::Base45Error::InvalidCharacter(0))));
    assert_eq!(code_from_qr_text("T1:"), Ok(vec![]));
    let long = format!("T1:{}", "0".repeat(2 * MAX_CODE_LEN));
    assert_eq!(code_from_qr_text(&long), Err(QrError::TooLong));
    // The bound is on the text without its line ending.
    let at_bound = format!("T1:{}\r\n", "0".repeat(2 * MAX_CODE_LEN - 3));
    assert_eq!(code_from_qr_text(&at_bound), Err(QrError::Base45(base45::Base45Error::InvalidLength)));
}

proptest! {
    #[test]
    fn qr_text_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..=MAX_CODE_LEN)) {
        prop_assert_eq!(code_from_qr_text(&qr_text(&bytes)), Ok(bytes));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,1100}") {
        let _ = code_from_qr_text(&text);
    }

    #[test]
    fn entrance_codes_are_valid_pass_fields(zone in "\\PC{0,40}") {
        let code = entrance_code(&zone);
        prop_assert!(code.len() <= MAX_ENTRANCE_LEN);
        prop_assert!(code.bytes().all(|b| (0x21..=0x7E).contains(&b)));
    }
}
