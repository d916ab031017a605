//! The envelope agrees with Python's pycryptodome, which the document's Python sample uses:
//! Rust seals and Python opens, Python seals and Rust opens, and with the same IV both
//! produce the same bytes. Needs `python3` with `pycryptodome` (installed by scripts/test.sh).

use mypay_protocol::envelope::{self, MerchantKey};
use std::process::Command;

const KEY: &str = "KYTjd9ACcjGaTK6V3zWmMkyrQS08Ndcx";

fn python(script: &str, args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "python failed: {stderr}");
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

const PY_OPEN: &str = r#"
import base64, sys
from Crypto.Cipher import AES
from Crypto.Util import Padding
key, sealed = sys.argv[1].encode(), base64.b64decode(sys.argv[2])
plain = Padding.unpad(AES.new(key, AES.MODE_CBC, sealed[:16]).decrypt(sealed[16:]), AES.block_size)
sys.stdout.write(plain.decode('utf-8'))
"#;

const PY_SEAL: &str = r#"
import base64, sys
from Crypto.Cipher import AES
from Crypto.Util import Padding
key, iv, plain = sys.argv[1].encode(), bytes.fromhex(sys.argv[2]), sys.argv[3].encode('utf-8')
body = AES.new(key, AES.MODE_CBC, iv).encrypt(Padding.pad(plain, AES.block_size))
sys.stdout.write(base64.b64encode(iv + body).decode())
"#;

#[test]
fn python_opens_what_rust_seals() {
    let key = MerchantKey::parse(KEY).expect("key");
    for plain in [
        r#"{"service_name":"api","cmd":"api/orders"}"#,
        r#"{"items":[{"name":"商品名稱"}],"cost":"10"}"#,
        "",
        "exactly sixteen!",
    ] {
        let sealed = envelope::seal(&key, plain.as_bytes());
        assert_eq!(python(PY_OPEN, &[KEY, &sealed]), plain);
    }
}

#[test]
fn rust_opens_what_python_seals_and_the_bytes_agree() {
    let key = MerchantKey::parse(KEY).expect("key");
    let iv = [0x5au8; 16];
    let iv_hex: String = iv.iter().map(|b| format!("{b:02x}")).collect();
    for plain in [
        r#"{"uid":"34799","key":"c23dd140aa9536eb4c09ef053171110f"}"#,
        "倚天劍模型",
    ] {
        let from_python = python(PY_SEAL, &[KEY, &iv_hex, plain]);
        assert_eq!(
            envelope::open(&key, &from_python).expect("opens"),
            plain.as_bytes()
        );
        assert_eq!(
            envelope::seal_with_iv(&key, &iv, plain.as_bytes()),
            from_python
        );
    }
}
