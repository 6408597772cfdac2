//! One CSV import row (Magento's Customers Main File): any bytes as a CSV file
//! (with Magento's header in front, or its own first line as the header); no
//! panic; an imported row is a valid customer, a refused row says why.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shop_accounts::accounts::{Email, StoredHash};
use shop_accounts::import::magento_row::{Columns, read};

const HEADER: &str = "email,_website,_store,confirmation,created_at,created_in,disable_auto_group_change,dob,firstname,gender,group_id,lastname,middlename,password_hash,prefix,rp_token,rp_token_created_at,store_id,suffix,taxvat,updated_at,website_id,password\n";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let file: Vec<u8> = if mode & 1 == 0 {
        [HEADER.as_bytes(), body].concat()
    } else {
        body.to_vec()
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(file.as_slice());
    let mut header = csv::ByteRecord::new();
    if !matches!(reader.read_byte_record(&mut header), Ok(true)) {
        return;
    }
    let Some(columns) = Columns::from_header(&header) else {
        return;
    };
    let mut record = csv::ByteRecord::new();
    for _ in 0..64 {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
        match read(&columns, &record, 1_700_000_000, "en") {
            Ok(customer) => {
                let email = Email::parse(&customer.email).expect("an imported email parses");
                assert_eq!(email.as_str(), customer.email);
                assert_eq!(email.key(), customer.email_key);
                assert!(!customer.firstname.is_empty() && !customer.lastname.is_empty());
                assert!(StoredHash::parse(&customer.password_hash).is_ok());
                assert!(!customer.security_stamp.is_empty());
            }
            Err(reasons) => {
                assert!(!reasons.is_empty());
                for reason in &reasons {
                    assert!(!reason.to_string().is_empty());
                }
            }
        }
    }
});
