//! Base64 as Go's `StdEncoding` decodes it.

use agent_protocol::{Base64, Base64Error};

#[test]
fn decodes_like_go_std_encoding() {
    for (name, text, expected) in [
        ("empty", "", Ok(vec![])),
        ("two padding", "eQ==", Ok(b"y".to_vec())),
        ("one padding", "eHk=", Ok(b"xy".to_vec())),
        ("no padding", "aGVsbG8K", Ok(b"hello\n".to_vec())),
        (
            "line breaks ignored",
            "aGVs\r\nbG8K\n",
            Ok(b"hello\n".to_vec()),
        ),
        ("all alphabet", "+/+/", Ok(vec![0xfb, 0xff, 0xbf])),
        (
            "missing padding",
            "aGVsbG8",
            Err(Base64Error::InvalidLength { length: 7 }),
        ),
        (
            "url alphabet",
            "a-_b",
            Err(Base64Error::InvalidByte {
                offset: 1,
                byte: b'-',
            }),
        ),
        (
            "padding in the middle",
            "eQ==eQ==",
            Err(Base64Error::InvalidByte {
                offset: 2,
                byte: b'=',
            }),
        ),
        (
            "three padding",
            "e===",
            Err(Base64Error::InvalidByte {
                offset: 1,
                byte: b'=',
            }),
        ),
        (
            "padding then data",
            "eQ=a",
            Err(Base64Error::InvalidByte {
                offset: 2,
                byte: b'=',
            }),
        ),
    ] {
        assert_eq!(Base64::from_encoded(text).decode(), expected, "{name}");
    }
}

#[test]
fn encode_then_decode_gives_the_bytes_back() {
    for len in 0..=9u8 {
        let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(97) ^ 0xa5).collect();
        let encoded = Base64::encode(&bytes);
        assert!(encoded.as_encoded().len().is_multiple_of(4), "len {len}");
        assert_eq!(encoded.decode().expect("decodes"), bytes, "len {len}");
    }
    assert_eq!(Base64::encode(b"hello\n").as_encoded(), "aGVsbG8K");
    assert_eq!(Base64::encode(b"xy").as_encoded(), "eHk=");
}

#[test]
fn debug_shows_only_the_length() {
    let value = Base64::encode(b"secret");
    assert_eq!(format!("{value:?}"), "Base64(<8 chars>)");
    assert_eq!(
        Base64Error::InvalidLength { length: 7 }.to_string(),
        "base64 length 7 is not a multiple of 4"
    );
}
