//! Realistic Japanese text and the mail encodings the benches write raw mail in.

use super::base64;

// ---------------------------------------------------------------------------------------------
// Realistic text
// ---------------------------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*), so runs are comparable.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// 0..n
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability p.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Sentences of the kind the centre receives. All are in JIS X 0208, so they also encode as
/// ISO-2022-JP.
const SENTENCES: &[&str] = &[
    "はじめてご連絡いたします。",
    "息子が高校を中退してから、もう五年ほど自分の部屋からほとんど出てきません。",
    "食事は部屋の前に置いておくと、夜中に食べているようです。",
    "最近は昼と夜が逆転していて、家族ともほとんど顔を合わせなくなりました。",
    "私自身、どのように声をかけたらよいのか分からなくなっています。",
    "夫は「放っておけばそのうち出てくる」と言いますが、私はとても心配です。",
    "以前、病院に連れて行こうとしたことがありますが、強く拒まれてしまいました。",
    "本人は電話が苦手なので、まずはメールで相談できればと思いました。",
    "私は三十代で、大学を卒業してから一度も働いたことがありません。",
    "人と話すことが怖くなり、コンビニに行くのにも勇気が必要です。",
    "親も高齢になり、このままではいけないと頭では分かっています。",
    "同じような経験をした人と話せる場所があれば、参加してみたいです。",
    "訪問していただくことは可能でしょうか。",
    "札幌市内に住んでおり、平日の日中であれば時間を作ることができます。",
    "娘は中学二年生の秋から学校に行けなくなり、今は二十二歳になりました。",
    "インターネットだけが外とのつながりになっているようです。",
    "家の中では穏やかに過ごしていますが、将来の話をすると黙ってしまいます。",
    "兄弟との関係も悪くなってしまい、家の中の空気が重く感じられます。",
    "支援センターではどのような相談ができるのか、教えていただけますでしょうか。",
    "長文になってしまい申し訳ありません。どうぞよろしくお願いいたします。",
];

/// Subjects of consultations (also the bulk seeder's, in SQL).
pub const SUBJECTS: &[&str] = &[
    "息子のことで相談です",
    "娘がひきこもっています",
    "自分自身のことでご相談",
    "家族の接し方について",
    "訪問相談について教えてください",
    "兄のことで悩んでいます",
    "はじめての相談です",
    "今後の生活について",
];

const FAMILY_NAMES: &[&str] = &[
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田",
];
const GIVEN_NAMES: &[&str] = &[
    "花子", "太郎", "美咲", "健一", "由美", "誠", "直子", "翔太", "恵子", "大輔",
];

/// A consultation text of at least `min_bytes` UTF-8 bytes (Japanese is 3 bytes a character),
/// made distinct by `n`.
pub fn japanese_body(rng: &mut Rng, min_bytes: usize, n: usize) -> String {
    let mut body = format!("相談番号{n}番としてお送りします。\n");
    while body.len() < min_bytes {
        body.push_str(rng.pick::<&str>(SENTENCES));
        if rng.chance(0.3) {
            body.push('\n');
        }
    }
    body
}

pub fn japanese_subject(rng: &mut Rng) -> &'static str {
    rng.pick::<&str>(SUBJECTS)
}

pub fn japanese_name(rng: &mut Rng) -> String {
    format!("{} {}", rng.pick(FAMILY_NAMES), rng.pick(GIVEN_NAMES))
}

// ---------------------------------------------------------------------------------------------
// Mail encodings (the benches write raw mail as Japanese clients send it)
// ---------------------------------------------------------------------------------------------

/// Base64 in lines of 76 characters, CRLF-ended, as a body part.
pub fn base64_lines(bytes: &[u8]) -> String {
    let encoded = base64(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38);
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap_or(""));
        out.push_str("\r\n");
    }
    out
}

/// Quoted-printable with soft line breaks before 76 characters.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::new();
    for line in text.split('\n') {
        let mut len = 0;
        for &b in line.as_bytes() {
            let piece = if (b.is_ascii_graphic() && b != b'=') || b == b' ' {
                (b as char).to_string()
            } else {
                format!("={b:02X}")
            };
            if len + piece.len() > 75 {
                out.push_str("=\r\n");
                len = 0;
            }
            len += piece.len();
            out.push_str(&piece);
        }
        out.push_str("\r\n");
    }
    out
}

/// An RFC 2047 encoded word in UTF-8 (B encoding).
pub fn encoded_word_utf8(text: &str) -> String {
    format!("=?UTF-8?B?{}?=", base64(text.as_bytes()))
}

/// Text in ISO-2022-JP, as older Japanese clients and phones still send it.
pub fn iso2022jp(text: &str) -> Vec<u8> {
    let (bytes, _, had_errors) = encoding_rs::ISO_2022_JP.encode(text);
    assert!(!had_errors, "text outside JIS X 0208: {text}");
    bytes.into_owned()
}

/// Breaks Japanese text into lines of at most `chars` characters, CRLF-ended.
pub fn wrap(text: &str, chars: usize) -> String {
    let mut out = String::new();
    for line in text.split('\n') {
        let all: Vec<char> = line.chars().collect();
        for piece in all.chunks(chars.max(1)) {
            out.extend(piece);
            out.push_str("\r\n");
        }
        if all.is_empty() {
            out.push_str("\r\n");
        }
    }
    out
}
