//! An ODF document as a venue's result system sends it: the `<OdfBody>` header (ODF
//! Foundation Principles §3.3.2) and a body, read from JSON or from ODF XML.
//!
//! The identity of a document is its first six header attributes ([`Key`]); `Version` orders
//! its versions; a document without its `<Competition>` element (a JSON `body` of `null`) is
//! a withdrawal of that version (FND §6.19).
//!
//! XML is read with `quick-xml`, which expands no entity of its own making: a document type
//! declaration (the door to "billion laughs" and external entities) is refused outright, and
//! the five predefined entities and character references are all that is decoded.

use serde::{Deserialize, Serialize};

/// ODF caps a message at 10 MB (FND §8).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
/// Results a body may rank, at most (a marathon has some 150 finishers; a body is one unit).
pub const MAX_RANKED: usize = 10_000;

/// What identifies a document across its versions (the first six header attributes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    pub competition: String,
    pub document_code: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub document_subcode: String,
    pub document_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub document_subtype: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub language: String,
}

impl Key {
    /// The discipline: the first three characters of a results code (`ATH`, `SWM`).
    pub fn discipline(&self) -> &str {
        self.document_code.get(..3).unwrap_or(&self.document_code)
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.competition, self.document_type, self.document_code)?;
        for part in [&self.document_subcode, &self.document_subtype, &self.language] {
            if !part.is_empty() {
                write!(f, "/{part}")?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResultStatus {
    StartList,
    Live,
    Intermediate,
    Unconfirmed,
    Unofficial,
    Official,
    Partial,
    Protested,
    Provisional,
}

impl ResultStatus {
    pub fn parse(s: &str) -> Option<ResultStatus> {
        Some(match s {
            "START_LIST" => ResultStatus::StartList,
            "LIVE" => ResultStatus::Live,
            "INTERMEDIATE" => ResultStatus::Intermediate,
            "UNCONFIRMED" => ResultStatus::Unconfirmed,
            "UNOFFICIAL" => ResultStatus::Unofficial,
            "OFFICIAL" => ResultStatus::Official,
            "PARTIAL" => ResultStatus::Partial,
            "PROTESTED" => ResultStatus::Protested,
            "PROVISIONAL" => ResultStatus::Provisional,
            _ => return None,
        })
    }
}

/// `P`roduction or `T`est (FND §3.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FeedFlag {
    P,
    T,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    #[serde(flatten)]
    pub key: Key,
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_status: Option<ResultStatus>,
    pub feed_flag: FeedFlag,
    /// `YYYY-MM-DD`, local to where the message was made.
    pub date: String,
    /// `hhmmssfff`, local.
    pub time: String,
    /// The competition day (a unit started before midnight keeps its day).
    pub logical_date: String,
    /// The system that generated it (a venue result system's code).
    pub source: String,
}

/// One place in a ranked result: what a medal table is derived from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranked {
    pub rank: u32,
    /// The participant's organisation (a NOC: `FRA`, `USA`).
    pub organisation: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// A document's content: the JSON body or the `<Competition>` element's XML as sent, and the
/// ranking read from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Body {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xml: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranked: Vec<Ranked>,
}

impl Body {
    /// Bytes it holds, roughly (for the log's bound).
    pub fn weight(&self) -> usize {
        self.xml.as_ref().map_or(0, String::len)
            + self.json.as_ref().map_or(0, |j| j.to_string().len())
            + self.ranked.len() * 32
    }
}

/// Serialisable both ways: the results log between nodes carries documents as they were read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub header: Header,
    /// `None`: the version is withdrawn.
    pub body: Option<Body>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("the document is {0} bytes; ODF caps a message at 10 MB")]
    TooLarge(usize),
    #[error("the JSON is malformed: {0}")]
    Json(String),
    #[error("the XML is malformed: {0}")]
    Xml(String),
    #[error("a document type declaration (DTD) is refused: entities are not expanded")]
    Dtd,
    #[error("the root element is <{0}>, not <OdfBody>")]
    Root(String),
    #[error("the header lacks {0}")]
    Missing(&'static str),
    #[error("{field} is {value:?}: {why}")]
    Field { field: &'static str, value: String, why: &'static str },
    #[error("the ranking is wrong: {0}")]
    Ranking(String),
}

fn field(field: &'static str, value: &str, why: &'static str) -> DocumentError {
    DocumentError::Field { field, value: value.chars().take(60).collect(), why }
}

impl Header {
    /// Checks every field's form: lengths (FND §3.3.2), dates, times, the version.
    pub fn check(&self) -> Result<(), DocumentError> {
        let k = &self.key;
        let sized = [
            ("competition", &k.competition, 15, true),
            ("document_code", &k.document_code, 34, true),
            ("document_subcode", &k.document_subcode, 34, false),
            ("document_type", &k.document_type, 30, true),
            ("document_subtype", &k.document_subtype, 20, false),
            ("language", &k.language, 3, false),
            ("source", &self.source, 20, true),
        ];
        for (name, value, max, required) in sized {
            if required && value.is_empty() {
                return Err(DocumentError::Missing(name));
            }
            if value.len() > max {
                return Err(field(name, value, "too long for ODF"));
            }
            if !value.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
                return Err(field(name, value, "printable ASCII only"));
            }
        }
        if !k.document_type.starts_with("DT_") {
            return Err(field("document_type", &k.document_type, "an ODF type begins with DT_"));
        }
        if self.version == 0 {
            return Err(field("version", "0", "versions count from 1"));
        }
        for (name, value) in [("date", &self.date), ("logical_date", &self.logical_date)] {
            if !is_date(value) {
                return Err(field(name, value, "not a date YYYY-MM-DD"));
            }
        }
        if !(self.time.len() == 9 && self.time.bytes().all(|b| b.is_ascii_digit()) && is_time(&self.time)) {
            return Err(field("time", &self.time, "not a time hhmmssfff"));
        }
        Ok(())
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
    matches!((num(0..4), num(5..7), num(8..10)), (Some(_), Some(m), Some(d)) if (1..=12).contains(&m) && (1..=31).contains(&d))
}

fn is_time(s: &str) -> bool {
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok()).unwrap_or(99);
    num(0..2) < 24 && num(2..4) < 60 && num(4..6) < 60
}

/// The JSON form: the header's fields, and `body` (any JSON; `null` withdraws). A `ranking`
/// array of `{rank, organisation, name}` gives what a medal table needs.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonDocument {
    competition: String,
    document_code: String,
    #[serde(default)]
    document_subcode: String,
    document_type: String,
    #[serde(default)]
    document_subtype: String,
    #[serde(default)]
    language: String,
    version: u32,
    #[serde(default)]
    result_status: Option<ResultStatus>,
    feed_flag: FeedFlag,
    date: String,
    time: String,
    logical_date: String,
    source: String,
    body: Option<serde_json::Value>,
    #[serde(default)]
    ranking: Vec<Ranked>,
}

/// A document from its JSON form.
pub fn from_json(bytes: &[u8]) -> Result<Document, DocumentError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::TooLarge(bytes.len()));
    }
    let d: JsonDocument = serde_json::from_slice(bytes).map_err(|e| DocumentError::Json(e.to_string()))?;
    let header = Header {
        key: Key {
            competition: d.competition,
            document_code: d.document_code,
            document_subcode: d.document_subcode,
            document_type: d.document_type,
            document_subtype: d.document_subtype,
            language: d.language,
        },
        version: d.version,
        result_status: d.result_status,
        feed_flag: d.feed_flag,
        date: d.date,
        time: d.time,
        logical_date: d.logical_date,
        source: d.source,
    };
    header.check()?;
    check_ranking(&d.ranking)?;
    let body = match d.body {
        None if d.ranking.is_empty() => None,
        None => return Err(DocumentError::Ranking("a withdrawal (body null) carries no ranking".into())),
        Some(json) => Some(Body { json: Some(json), xml: None, ranked: d.ranking }),
    };
    Ok(Document { header, body })
}

fn check_ranking(r: &[Ranked]) -> Result<(), DocumentError> {
    if r.len() > MAX_RANKED {
        return Err(DocumentError::Ranking(format!("{} places; at most {MAX_RANKED}", r.len())));
    }
    for p in r {
        if p.rank == 0 {
            return Err(DocumentError::Ranking("ranks count from 1".into()));
        }
        if p.organisation.is_empty()
            || p.organisation.len() > 10
            || !p.organisation.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(DocumentError::Ranking(format!("organisation {:?} is not a code", p.organisation)));
        }
        if p.name.len() > 200 {
            return Err(DocumentError::Ranking("a name longer than 200 bytes".into()));
        }
    }
    Ok(())
}

/// A document from ODF XML: `<OdfBody ...header...>` with a `<Competition>` element (absent:
/// a withdrawal). Ranks are read from `<Result Rank="n">` elements and the `Organisation` of
/// the first `<Participant>` (or `<Competitor Organisation>`) inside each.
pub fn from_xml(bytes: &[u8]) -> Result<Document, DocumentError> {
    use quick_xml::events::Event;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::TooLarge(bytes.len()));
    }
    let text =
        std::str::from_utf8(bytes).map_err(|e| DocumentError::Xml(format!("not UTF-8 (byte {})", e.valid_up_to())))?;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let xml_err = |e: quick_xml::Error, at: u64| DocumentError::Xml(format!("{e} (at byte {at})"));
    let mut header: Option<Header> = None;
    let mut competition: Option<(usize, usize)> = None; // byte range of <Competition>...</Competition>
    let mut competition_start = None;
    let mut depth = 0usize;
    let mut ranked = Vec::new();
    let mut open_rank: Option<u32> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let ev = reader.read_event().map_err(|e| xml_err(e, reader.buffer_position()))?;
        match ev {
            Event::DocType(_) => return Err(DocumentError::Dtd),
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if depth == 0 {
                    if name != "OdfBody" {
                        return Err(DocumentError::Root(name));
                    }
                    header = Some(header_from(e)?);
                } else if name == "Competition" && depth == 1 && competition_start.is_none() {
                    competition_start = Some(before);
                    if empty {
                        competition = Some((before, reader.buffer_position() as usize));
                    }
                } else if competition_start.is_some() {
                    match name.as_str() {
                        "Result" => {
                            open_rank = attr(e, "Rank")?.and_then(|r| r.parse().ok());
                            if empty {
                                open_rank = None;
                            }
                        }
                        "Participant" | "Competitor" => {
                            if let (Some(rank), Some(org)) = (open_rank, attr(e, "Organisation")?) {
                                if ranked.len() >= MAX_RANKED {
                                    return Err(DocumentError::Ranking(format!("more than {MAX_RANKED} places")));
                                }
                                let name = attr(e, "Name")?.unwrap_or_default();
                                ranked.push(Ranked { rank, organisation: org, name });
                                open_rank = None; // the first participant of a result is its holder
                            }
                        }
                        _ => {}
                    }
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::End(ref e) => {
                depth = depth.saturating_sub(1);
                if e.name().as_ref() == b"Competition" && depth == 1 {
                    if let Some(start) = competition_start {
                        competition.get_or_insert((start, reader.buffer_position() as usize));
                    }
                } else if e.name().as_ref() == b"Result" {
                    open_rank = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let header = header.ok_or(DocumentError::Root("(none)".into()))?;
    header.check()?;
    check_ranking(&ranked)?;
    let body = competition.map(|(a, b)| Body { json: None, xml: Some(text[a..b].to_string()), ranked });
    Ok(Document { header, body })
}

fn attr(e: &quick_xml::events::BytesStart<'_>, name: &str) -> Result<Option<String>, DocumentError> {
    match e.try_get_attribute(name) {
        Ok(Some(a)) => a
            .unescape_value()
            .map(|v| Some(v.into_owned()))
            .map_err(|err| DocumentError::Xml(format!("attribute {name}: {err}"))),
        Ok(None) => Ok(None),
        Err(err) => Err(DocumentError::Xml(format!("attribute {name}: {err}"))),
    }
}

fn header_from(e: &quick_xml::events::BytesStart<'_>) -> Result<Header, DocumentError> {
    let get = |name: &'static str, json: &'static str| -> Result<String, DocumentError> {
        attr(e, name)?.ok_or(DocumentError::Missing(json))
    };
    let opt = |name: &str| -> Result<String, DocumentError> { Ok(attr(e, name)?.unwrap_or_default()) };
    let version = get("Version", "version")?;
    let status = opt("ResultStatus")?;
    let flag = get("FeedFlag", "feed_flag")?;
    Ok(Header {
        key: Key {
            competition: get("CompetitionCode", "competition")?,
            document_code: get("DocumentCode", "document_code")?,
            document_subcode: opt("DocumentSubcode")?,
            document_type: get("DocumentType", "document_type")?,
            document_subtype: opt("DocumentSubtype")?,
            language: opt("Language")?,
        },
        version: version.parse().map_err(|_| field("version", &version, "not a positive whole number"))?,
        result_status: if status.is_empty() {
            None
        } else {
            Some(
                ResultStatus::parse(&status)
                    .ok_or_else(|| field("result_status", &status, "not an ODF result status"))?,
            )
        },
        feed_flag: match flag.as_str() {
            "P" => FeedFlag::P,
            "T" => FeedFlag::T,
            _ => return Err(field("feed_flag", &flag, "P or T")),
        },
        date: get("Date", "date")?,
        time: get("Time", "time")?,
        logical_date: get("LogicalDate", "logical_date")?,
        source: get("Source", "source")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<OdfBody CompetitionCode="OG2024" DocumentCode="ATHM100M----------FNL-000100--" DocumentType="DT_RESULT" Version="3" ResultStatus="OFFICIAL" FeedFlag="P" Date="2024-08-04" Time="215512000" LogicalDate="2024-08-04" Source="ATHOLY1">
  <Competition Gen="SOG-2024" Sport="SOG-2024">
    <Result Rank="1" Result="9.79"><Competitor Code="1" Type="A" Organisation="USA"><Composition><Athlete Code="1"/></Composition></Competitor></Result>
    <Result Rank="2" Result="9.79"><Participant Code="2" Organisation="JAM" Name="Kishane &amp; co"/></Result>
    <Result Rank="3" Result="9.81"><Participant Code="3" Organisation="USA"/></Result>
    <Result Rank="4"/>
  </Competition>
</OdfBody>"#;

    /// The header of a message as a Games' feed sent it (a schedule update of Beijing 2022: a
    /// long version, a language, no result status), with a byte-order mark before it and
    /// attributes this reader does not know: taken, and the body kept as it came.
    #[test]
    fn a_feeds_own_schedule_update_is_read() {
        let xml = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<OdfBody CompetitionCode=\"OWG2022\" DocumentCode=\"TRU-------------------------------\" DocumentType=\"DT_SCHEDULE_UPDATE\" Version=\"2688\" Language=\"ENG\" FeedFlag=\"P\" Date=\"2022-02-17\" Time=\"084527763\" LogicalDate=\"2022-02-17\" Source=\"ODS\" RTSerial=\"151\"><Competition Gen=\"WOG-2022-GEN\" Codes=\"WOG-2022-3.10\"><Unit Code=\"TRU-IHO-------------------3D------\" ScheduleStatus=\"SCHEDULED\" ModificationIndicator=\"U\"><ItemName Language=\"ENG\" Value=\"Men&apos;s Practice\"/></Unit></Competition></OdfBody>";
        let d = from_xml(xml.as_bytes()).unwrap();
        assert_eq!(d.header.key.competition, "OWG2022");
        assert_eq!(d.header.key.document_type, "DT_SCHEDULE_UPDATE");
        assert_eq!((d.header.version, d.header.result_status, d.header.key.language.as_str()), (2688, None, "ENG"));
        let body = d.body.unwrap();
        assert!(body.xml.as_deref().unwrap().contains("ScheduleStatus=\"SCHEDULED\""));
        assert!(body.ranked.is_empty());
    }

    #[test]
    fn an_odf_xml_result_is_read_with_its_ranking() {
        let d = from_xml(XML.as_bytes()).unwrap();
        assert_eq!(d.header.key.document_type, "DT_RESULT");
        assert_eq!(d.header.key.discipline(), "ATH");
        assert_eq!((d.header.version, d.header.result_status), (3, Some(ResultStatus::Official)));
        let body = d.body.unwrap();
        assert!(
            body.xml.as_deref().unwrap().starts_with("<Competition")
                && body.xml.as_deref().unwrap().ends_with("</Competition>")
        );
        let ranks: Vec<_> = body.ranked.iter().map(|r| (r.rank, r.organisation.as_str())).collect();
        assert_eq!(ranks, [(1, "USA"), (2, "JAM"), (3, "USA")]);
        assert_eq!(body.ranked[1].name, "Kishane & co");
    }

    #[test]
    fn without_competition_it_is_a_withdrawal() {
        let start = XML.find("  <Competition").unwrap();
        let end = XML.find("</Competition>").unwrap() + "</Competition>".len();
        let withdrawn = format!("{}{}", &XML[..start], &XML[end..]);
        assert_eq!(from_xml(withdrawn.as_bytes()).unwrap().body, None);
    }

    #[test]
    fn entity_tricks_and_broken_xml_are_refused_with_a_reason() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><OdfBody>&lol2;</OdfBody>"#;
        assert_eq!(from_xml(laughs.as_bytes()), Err(DocumentError::Dtd));
        let external = r#"<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><OdfBody>&xxe;</OdfBody>"#;
        assert_eq!(from_xml(external.as_bytes()), Err(DocumentError::Dtd));
        let undeclared = XML.replace("Kishane &amp; co", "&xxe;");
        assert!(matches!(from_xml(undeclared.as_bytes()), Err(DocumentError::Xml(_))));
        let unclosed = XML.replace("</Competition>", "");
        assert!(matches!(from_xml(unclosed.as_bytes()), Err(DocumentError::Xml(_))));
        assert_eq!(from_xml(b"<Other/>"), Err(DocumentError::Root("Other".into())));
        assert_eq!(from_xml(XML.replace(" Version=\"3\"", "").as_bytes()), Err(DocumentError::Missing("version")));
        let bad_time = XML.replace("215512000", "256100000");
        assert!(matches!(from_xml(bad_time.as_bytes()), Err(DocumentError::Field { field: "time", .. })));
        assert!(matches!(from_xml(&[0xff, 0xfe]), Err(DocumentError::Xml(_))));
        let huge = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        assert_eq!(from_xml(&huge), Err(DocumentError::TooLarge(MAX_DOCUMENT_BYTES + 1)));
    }

    #[test]
    fn the_json_form_reads_and_checks_the_same_header() {
        let json = r#"{"competition":"OG2024","document_code":"SWMW100MFR--------FNL-000100--","document_type":"DT_RESULT",
            "version":1,"result_status":"UNOFFICIAL","feed_flag":"P","date":"2024-07-31","time":"203000000",
            "logical_date":"2024-07-31","source":"SWMLDF1","body":{"units":1},
            "ranking":[{"rank":1,"organisation":"AUS","name":"M. O'Callaghan"}]}"#;
        let d = from_json(json.as_bytes()).unwrap();
        assert_eq!(d.header.key.discipline(), "SWM");
        assert_eq!(d.body.as_ref().unwrap().ranked[0].organisation, "AUS");
        let withdrawn = json.split(r#""body""#).next().unwrap().to_string() + r#""body":null}"#;
        assert_eq!(from_json(withdrawn.as_bytes()).unwrap().body, None);
        let ranked_withdrawal = json.replace(r#""body":{"units":1}"#, r#""body":null"#);
        assert!(matches!(from_json(ranked_withdrawal.as_bytes()), Err(DocumentError::Ranking(_))));
        for (bad, why) in [
            (json.replace(r#""version":1"#, r#""version":0"#), "version"),
            (json.replace("DT_RESULT", "RESULT"), "document_type"),
            (json.replace(r#""feed_flag":"P""#, r#""feed_flag":"X""#), "malformed"),
            (json.replace(r#""source":"SWMLDF1""#, r#""source":"SWMLDF1","extra":1"#), "malformed"),
            (json.replace(r#""organisation":"AUS""#, r#""organisation":"A U S""#), "ranking"),
            (json.replace("2024-07-31", "2024-13-31"), "date"),
        ] {
            let e = from_json(bad.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(why), "{why}: {e}");
        }
    }
}
