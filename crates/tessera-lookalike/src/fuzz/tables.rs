//! dnstwist's data, as of dnstwist 20250130 (PyPI, Apache-2.0): its keyboard layouts, homoglyph
//! tables and Latin-to-Cyrillic map (from `dnstwist.py`, class `Fuzzer`), and the word and TLD
//! lists from the `dictionaries/` folder of its repository (`english.dict`, `french.dict`,
//! `common_tlds.dict`, `abused_tlds.dict`), which the PyPI package does not ship and which
//! dnstwist reads with `-d FILE` and `--tld FILE`. Facts about dnstwist's behaviour, kept as
//! data so that the generator in the parent module reproduces it; the code is our own.

/// Look-alikes: a character (or two) and what dnstwist may put in its place.
pub(crate) type GlyphTable = &'static [(&'static str, &'static [&'static str])];

/// dnstwist's ASCII look-alikes, used for every TLD.
pub(crate) const ASCII: &[(&str, &[&str])] = &[
    ("0", &["o"]),
    ("1", &["l", "i"]),
    ("3", &["8"]),
    ("6", &["9"]),
    ("8", &["3"]),
    ("9", &["6"]),
    ("b", &["d", "lb"]),
    ("c", &["e"]),
    ("cl", &["d"]),
    ("d", &["b", "cl", "dl"]),
    ("e", &["c"]),
    ("g", &["q"]),
    ("h", &["lh"]),
    ("i", &["1", "l"]),
    ("k", &["lc"]),
    ("l", &["1", "i"]),
    ("m", &["n", "nn", "rn"]),
    ("n", &["m", "r"]),
    ("o", &["0"]),
    ("q", &["g"]),
    ("rn", &["m"]),
    ("u", &["v"]),
    ("v", &["u"]),
    ("w", &["vv"]),
];

/// dnstwist's Unicode look-alikes, for TLDs without a table of their own.
pub(crate) const UNICODE: &[(&str, &[&str])] = &[
    ("2", &["ƻ"]),
    ("3", &["ʒ"]),
    ("5", &["ƽ"]),
    ("a", &["ạ", "ă", "ȧ", "ɑ", "å", "ą", "â", "ǎ", "á", "ə", "ä", "ã", "ā", "à"]),
    ("ae", &["æ"]),
    ("b", &["ḃ", "ḅ", "ƅ", "ʙ", "ḇ", "ɓ"]),
    ("c", &["č", "ᴄ", "ċ", "ç", "ć", "ĉ", "ƈ"]),
    ("d", &["ď", "ḍ", "ḋ", "ɖ", "ḏ", "ɗ", "ḓ", "ḑ", "đ"]),
    ("e", &["ê", "ẹ", "ę", "è", "ḛ", "ě", "ɇ", "ė", "ĕ", "é", "ë", "ē", "ȩ"]),
    ("f", &["ḟ", "ƒ"]),
    ("g", &["ǧ", "ġ", "ǵ", "ğ", "ɡ", "ǥ", "ĝ", "ģ", "ɢ"]),
    ("h", &["ȟ", "ḫ", "ḩ", "ḣ", "ɦ", "ḥ", "ḧ", "ħ", "ẖ", "ⱨ", "ĥ"]),
    ("i", &["ɩ", "ǐ", "í", "ɪ", "ỉ", "ȋ", "ɨ", "ï", "ī", "ĩ", "ị", "î", "ı", "ĭ", "į", "ì"]),
    ("j", &["ǰ", "ĵ", "ʝ", "ɉ"]),
    ("k", &["ĸ", "ǩ", "ⱪ", "ḵ", "ķ", "ᴋ", "ḳ"]),
    ("l", &["ĺ", "ł", "ɫ", "ļ", "ľ"]),
    ("m", &["ᴍ", "ṁ", "ḿ", "ṃ", "ɱ"]),
    ("n", &["ņ", "ǹ", "ń", "ň", "ṅ", "ṉ", "ṇ", "ꞑ", "ñ", "ŋ"]),
    ("o", &["ö", "ó", "ȯ", "ỏ", "ô", "ᴏ", "ō", "ò", "ŏ", "ơ", "ő", "õ", "ọ", "ø"]),
    ("oe", &["œ"]),
    ("p", &["ṗ", "ƿ", "ƥ", "ṕ"]),
    ("q", &["ʠ"]),
    ("r", &["ʀ", "ȓ", "ɍ", "ɾ", "ř", "ṛ", "ɽ", "ȑ", "ṙ", "ŗ", "ŕ", "ɼ", "ṟ"]),
    ("s", &["ṡ", "ș", "ŝ", "ꜱ", "ʂ", "š", "ś", "ṣ", "ş"]),
    ("t", &["ť", "ƫ", "ţ", "ṭ", "ṫ", "ț", "ŧ"]),
    ("u", &["ᴜ", "ų", "ŭ", "ū", "ű", "ǔ", "ȕ", "ư", "ù", "ů", "ʉ", "ú", "ȗ", "ü", "û", "ũ", "ụ"]),
    ("v", &["ᶌ", "ṿ", "ᴠ", "ⱴ", "ⱱ", "ṽ"]),
    ("w", &["ᴡ", "ẇ", "ẅ", "ẃ", "ẘ", "ẉ", "ⱳ", "ŵ", "ẁ"]),
    ("x", &["ẋ", "ẍ"]),
    ("y", &["ŷ", "ÿ", "ʏ", "ẏ", "ɏ", "ƴ", "ȳ", "ý", "ỿ", "ỵ"]),
    ("z", &["ž", "ƶ", "ẓ", "ẕ", "ⱬ", "ᴢ", "ż", "ź", "ʐ"]),
];

/// Registry-accepted IDN look-alikes for ad, cz, sk, uk, co.uk, nl, edu, us (none: no IDN).
pub(crate) const IDN_AD: &[(&str, &[&str])] = &[];

/// Registry-accepted IDN look-alikes for jp, co.jp, ad.jp, ne.jp (none: no IDN).
pub(crate) const IDN_JP: &[(&str, &[&str])] = &[];

/// Registry-accepted IDN look-alikes for cn, com.cn, tw, com.tw, net.tw (none: no IDN).
pub(crate) const IDN_CN: &[(&str, &[&str])] = &[];

/// Registry-accepted IDN look-alikes for info.
pub(crate) const IDN_INFO: &[(&str, &[&str])] = &[
    ("a", &["á", "ä", "å", "ą"]),
    ("ae", &["æ"]),
    ("c", &["ć", "č"]),
    ("e", &["é", "ė", "ę"]),
    ("i", &["í", "į"]),
    ("l", &["ł"]),
    ("n", &["ñ", "ń"]),
    ("o", &["ó", "ö", "ø", "ő"]),
    ("s", &["ś", "š"]),
    ("u", &["ú", "ü", "ū", "ű", "ų"]),
    ("z", &["ź", "ż", "ž"]),
];

/// Registry-accepted IDN look-alikes for br, com.br.
pub(crate) const IDN_BR: &[(&str, &[&str])] = &[
    ("a", &["à", "á", "â", "ã"]),
    ("c", &["ç"]),
    ("e", &["é", "ê"]),
    ("i", &["í"]),
    ("o", &["ó", "ô", "õ"]),
    ("u", &["ú", "ü"]),
    ("y", &["ý", "ÿ"]),
];

/// Registry-accepted IDN look-alikes for dk.
pub(crate) const IDN_DK: &[(&str, &[&str])] =
    &[("a", &["ä", "å"]), ("ae", &["æ"]), ("e", &["é"]), ("o", &["ö", "ø"]), ("u", &["ü"])];

/// Registry-accepted IDN look-alikes for eu, de, pl.
pub(crate) const IDN_EU: &[(&str, &[&str])] = &[
    ("a", &["á", "à", "ă", "â", "å", "ä", "ã", "ą", "ā"]),
    ("ae", &["æ"]),
    ("c", &["ć", "ĉ", "č", "ċ", "ç"]),
    ("d", &["ď", "đ"]),
    ("e", &["é", "è", "ĕ", "ê", "ě", "ë", "ė", "ę", "ē"]),
    ("g", &["ğ", "ĝ", "ġ", "ģ"]),
    ("h", &["ĥ", "ħ"]),
    ("i", &["í", "ì", "ĭ", "î", "ï", "ĩ", "į", "ī"]),
    ("j", &["ĵ"]),
    ("k", &["ķ", "ĸ"]),
    ("l", &["ĺ", "ľ", "ļ", "ł"]),
    ("n", &["ń", "ň", "ñ", "ņ"]),
    ("o", &["ó", "ò", "ŏ", "ô", "ö", "ő", "õ", "ø", "ō"]),
    ("oe", &["œ"]),
    ("r", &["ŕ", "ř", "ŗ"]),
    ("s", &["ś", "ŝ", "š", "ş"]),
    ("t", &["ť", "ţ", "ŧ"]),
    ("u", &["ú", "ù", "ŭ", "û", "ů", "ü", "ű", "ũ", "ų", "ū"]),
    ("w", &["ŵ"]),
    ("y", &["ý", "ŷ", "ÿ"]),
    ("z", &["ź", "ž", "ż"]),
];

/// Registry-accepted IDN look-alikes for fi.
pub(crate) const IDN_FI: &[(&str, &[&str])] = &[
    ("3", &["ʒ"]),
    ("a", &["á", "ä", "å", "â"]),
    ("c", &["č"]),
    ("d", &["đ"]),
    ("g", &["ǧ", "ǥ"]),
    ("k", &["ǩ"]),
    ("n", &["ŋ"]),
    ("o", &["õ", "ö"]),
    ("s", &["š"]),
    ("t", &["ŧ"]),
    ("z", &["ž"]),
];

/// Registry-accepted IDN look-alikes for no.
pub(crate) const IDN_NO: &[(&str, &[&str])] = &[
    ("a", &["á", "à", "ä", "å"]),
    ("ae", &["æ"]),
    ("c", &["č", "ç"]),
    ("e", &["é", "è", "ê"]),
    ("i", &["ï"]),
    ("n", &["ŋ", "ń", "ñ"]),
    ("o", &["ó", "ò", "ô", "ö", "ø"]),
    ("s", &["š"]),
    ("t", &["ŧ"]),
    ("u", &["ü"]),
    ("z", &["ž"]),
];

/// Registry-accepted IDN look-alikes for be, fr, re, yt, pm, wf, tf, ch, li.
pub(crate) const IDN_BE: &[(&str, &[&str])] = &[
    ("a", &["à", "á", "â", "ã", "ä", "å"]),
    ("ae", &["æ"]),
    ("c", &["ç"]),
    ("e", &["è", "é", "ê", "ë"]),
    ("i", &["ì", "í", "î", "ï"]),
    ("n", &["ñ"]),
    ("o", &["ò", "ó", "ô", "õ", "ö"]),
    ("oe", &["œ"]),
    ("u", &["ù", "ú", "û", "ü"]),
    ("y", &["ý", "ÿ"]),
];

/// Registry-accepted IDN look-alikes for ca.
pub(crate) const IDN_CA: &[(&str, &[&str])] = &[
    ("a", &["à", "â"]),
    ("ae", &["æ"]),
    ("c", &["ç"]),
    ("e", &["è", "é", "ê", "ë"]),
    ("i", &["î", "ï"]),
    ("o", &["ô"]),
    ("oe", &["œ"]),
    ("u", &["ù", "û", "ü"]),
    ("y", &["ÿ"]),
];

/// The TLDs whose registries restrict IDN characters, and their tables.
pub(crate) const IDN_BY_TLD: &[(&[&str], GlyphTable)] = &[
    (&["ad", "cz", "sk", "uk", "co.uk", "nl", "edu", "us"], IDN_AD),
    (&["jp", "co.jp", "ad.jp", "ne.jp"], IDN_JP),
    (&["cn", "com.cn", "tw", "com.tw", "net.tw"], IDN_CN),
    (&["info"], IDN_INFO),
    (&["br", "com.br"], IDN_BR),
    (&["dk"], IDN_DK),
    (&["eu", "de", "pl"], IDN_EU),
    (&["fi"], IDN_FI),
    (&["no"], IDN_NO),
    (&["be", "fr", "re", "yt", "pm", "wf", "tf", "ch", "li"], IDN_BE),
    (&["ca"], IDN_CA),
];

/// dnstwist's Latin to Cyrillic substitutions.
#[rustfmt::skip]
pub(crate) const CYRILLIC: &[(char, char)] = &[
    ('a', 'а'), ('b', 'ь'), ('c', 'с'), ('d', 'ԁ'), ('e', 'е'), ('g', 'ԍ'), ('h', 'һ'), ('i', 'і'),
    ('j', 'ј'), ('k', 'к'), ('l', 'ӏ'), ('m', 'м'), ('o', 'о'), ('p', 'р'), ('q', 'ԛ'), ('s', 'ѕ'),
    ('t', 'т'), ('v', 'ѵ'), ('w', 'ԝ'), ('x', 'х'), ('y', 'у'),
];

/// QWERTY neighbours of each key.
#[rustfmt::skip]
pub(crate) const QWERTY: &[(char, &str)] = &[
    ('1', "2q"), ('2', "3wq1"), ('3', "4ew2"), ('4', "5re3"), ('5', "6tr4"), ('6', "7yt5"),
    ('7', "8uy6"), ('8', "9iu7"), ('9', "0oi8"), ('0', "po9"), ('q', "12wa"), ('w', "3esaq2"),
    ('e', "4rdsw3"), ('r', "5tfde4"), ('t', "6ygfr5"), ('y', "7uhgt6"), ('u', "8ijhy7"),
    ('i', "9okju8"), ('o', "0plki9"), ('p', "lo0"), ('a', "qwsz"), ('s', "edxzaw"), ('d', "rfcxse"),
    ('f', "tgvcdr"), ('g', "yhbvft"), ('h', "ujnbgy"), ('j', "ikmnhu"), ('k', "olmji"),
    ('l', "kop"), ('z', "asx"), ('x', "zsdc"), ('c', "xdfv"), ('v', "cfgb"), ('b', "vghn"),
    ('n', "bhjm"), ('m', "njk"),
];

/// QWERTZ neighbours of each key.
#[rustfmt::skip]
pub(crate) const QWERTZ: &[(char, &str)] = &[
    ('1', "2q"), ('2', "3wq1"), ('3', "4ew2"), ('4', "5re3"), ('5', "6tr4"), ('6', "7zt5"),
    ('7', "8uz6"), ('8', "9iu7"), ('9', "0oi8"), ('0', "po9"), ('q', "12wa"), ('w', "3esaq2"),
    ('e', "4rdsw3"), ('r', "5tfde4"), ('t', "6zgfr5"), ('z', "7uhgt6"), ('u', "8ijhz7"),
    ('i', "9okju8"), ('o', "0plki9"), ('p', "lo0"), ('a', "qwsy"), ('s', "edxyaw"), ('d', "rfcxse"),
    ('f', "tgvcdr"), ('g', "zhbvft"), ('h', "ujnbgz"), ('j', "ikmnhu"), ('k', "olmji"),
    ('l', "kop"), ('y', "asx"), ('x', "ysdc"), ('c', "xdfv"), ('v', "cfgb"), ('b', "vghn"),
    ('n', "bhjm"), ('m', "njk"),
];

/// AZERTY neighbours of each key.
#[rustfmt::skip]
pub(crate) const AZERTY: &[(char, &str)] = &[
    ('1', "2a"), ('2', "3za1"), ('3', "4ez2"), ('4', "5re3"), ('5', "6tr4"), ('6', "7yt5"),
    ('7', "8uy6"), ('8', "9iu7"), ('9', "0oi8"), ('0', "po9"), ('a', "2zq1"), ('z', "3esqa2"),
    ('e', "4rdsz3"), ('r', "5tfde4"), ('t', "6ygfr5"), ('y', "7uhgt6"), ('u', "8ijhy7"),
    ('i', "9okju8"), ('o', "0plki9"), ('p', "lo0m"), ('q', "zswa"), ('s', "edxwqz"),
    ('d', "rfcxse"), ('f', "tgvcdr"), ('g', "yhbvft"), ('h', "ujnbgy"), ('j', "iknhu"),
    ('k', "olji"), ('l', "kopm"), ('m', "lp"), ('w', "sxq"), ('x', "wsdc"), ('c', "xdfv"),
    ('v', "cfgb"), ('b', "vghn"), ('n', "bhj"),
];

/// dnstwist's `english.dict` then `french.dict`: words phishing campaigns add to a brand.
#[rustfmt::skip]
pub const DICTIONARY: &[&str] = &[
    "auth", "access", "account", "agree", "cdn", "choose", "claim", "cl", "click", "confirm",
    "confirmation", "connect", "download", "enroll", "find", "http", "https", "https-www",
    "install", "login", "mail", "my", "online", "payment", "payments", "recovery", "register",
    "ssl", "safe", "secure", "security", "service", "services", "signin", "support", "summary",
    "update", "user", "verify", "verification", "view", "ww", "www",
    // french.dict
    "actif", "active", "activite", "agent", "bleu", "carte", "compte", "enligne", "forum", "fr",
    "gerer", "gouv", "groupe", "index", "le", "ma", "menu", "mon", "moncompte", "portail", "site",
    "solutions",
];

/// dnstwist's `common_tlds.dict` then what `abused_tlds.dict` adds, without the three
/// Cyrillic TLDs that dnstwist's own `--tld` filter (`[a-z0-9-]{2,63}`) drops.
#[rustfmt::skip]
pub const TLDS: &[&str] = &[
    "com", "org", "ru", "net", "de", "br", "co.uk", "ltd.uk", "me.uk", "org.uk", "plc.uk", "it",
    "pl", "jp", "fr", "au", "com.au", "net.au", "org.au", "id.au", "ir", "in", "co.in",
    "firm.in", "org.in", "gen.in", "ind.in", "info", "cz", "nl", "es", "ca", "ua", "cn", "kr",
    "eu", "co", "ch", "gr", "tw", "za", "se", "ro", "hu", "at", "be", "mx", "vn", "ar", "sk",
    "dk", "no", "io", "tr", "me", "us", "cl", "biz", "fi", "tv", "pt", "nz", "ie", "xyz", "id",
    "il", "by", "hk", "club", "sg", "lt", "my", "online", "kz", "pro", "cc", "si", "hr", "bg",
    "th", "rs", "su", "pk", "az", "top", "site", "ng", "edu", "lv", "pe", "ae", "ee", "tk",
    "ph", "cat", "pw", "sa", "uz", "gov", "is", "mobi", "win", "nu", "lu", "ml", "asia", "ma",
    "lk", "shop", "ge", "ve", "live", "blog", "ws", "space", "ba", "ga", "uy", "bd", "cf",
    "website", "life", "tn", "ai", "tech", "md", "news", "mk", "ke", "do", "fm", "ec", "to",
    "am", "store", "mn", "la", "py", "coop", "media", "travel", "al", "world", "work", "np",
    "one", "eg", "guru", "cr", "kg", "link", "stream", "tz", "ly", "gg", "app", "icu", "nyc",
    "qa", "agency", "gt", "host", "network", "bid", "cloud", "vip", "bo", "cy", "dz", "im",
    "bz", "aero", "gq", "ug", "global", "design", "digital", "eus", "pa", "af", "vc", "academy",
    "li", "ao", "center", "jobs", "tj", "studio", "sv", "ovh", "mm", "jo", "ag", "click",
    "video", "sd", "kw", "zone", "zw", "moe", "press", "cm", "ps", "ci", "city", "ooo", "re",
    "ninja", "lb", "wiki", "mt", "om", "education", "company", "mz", "gh", "mu", "kh", "trade",
    "solutions", "mo", "church", "men", "group", "tips", "sy", "cu", "ni", "ac", "plus", "red",
    "sh", "guide", "rw", "games", "bh", "sn", "st", "hn", "art", "iq", "expert", "events",
    "cash", "social", "party", "school", "bike", "tools", "ltd", "services", "moscow", "et",
    "bank", "fo", "so", "market", "cool", "sexy", "team", "marketing", "ms", "tt", "zm", "bzh",
    "mg", "works", "bio", "bet", "bw", "cx", "land", "as", "community", "pg", "gal", "love",
    "pub", "cd", "bt", "email", "tm", "na", "systems", "date", "ink", "cafe", "gdn", "blue",
    "capital", "coffee", "sc", "pics", "bn", "chat", "run", "fit", "science", "help", "bf",
    "house", "care", "nc", "exchange", "porn", "photography", "bm", "audio", "loan", "scot",
    "gratis", "swiss", "watch", "ad", "kim", "support", "training", "gl", "gs", "technology",
    "codes", "gallery", "reviews", "wtf", "movie", "mv", "wien", "webcam", "farm", "money",
    "style", "wang", "ht", "jm", "software", "bar", "beer", "law", "photo", "int", "photos",
    "directory", "africa", "energy", "pf", "gi", "tc", "fund", "mw", "international", "fj",
    "lol", "amsterdam", "report", "camp", "pr", "earth", "pink", "sm", "pm", "ky", "ventures",
    "restaurant", "bi", "foundation", "mr", "je", "mc", "deals", "direct", "mil", "show",
    "tube", "careers", "film", "fyi", "buzz", "cam", "tl", "cn.com", "de.com", "eu.com",
    "ru.com", "uk.com", "uk.net", "us.com", "us.org", "rest",
];
