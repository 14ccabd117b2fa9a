//! Reading the guide table text format (see the module docs) into a [`Guide`].

use super::model::*;

/// A guide table that could not be read: the line and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct GuideError {
    /// The file (or name) being read.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    Word(&'a str),
    Quoted(&'a str),
    Codes(Vec<&'a str>),
    Set(&'a str),
}

fn lex(line: &str) -> Result<Vec<Tok<'_>>, String> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' => i += 1,
            b'#' => break,
            b'"' => {
                let end = line[i + 1..]
                    .find('"')
                    .ok_or("unterminated quoted string")?;
                out.push(Tok::Quoted(&line[i + 1..i + 1 + end]));
                i += end + 2;
            }
            b'[' => {
                // codes are separated by white space; a code holding spaces is quoted
                let mut codes = Vec::new();
                let mut j = i + 1;
                loop {
                    while j < b.len() && b[j] == b' ' {
                        j += 1;
                    }
                    match b.get(j) {
                        None => return Err("unterminated code list '['".into()),
                        Some(b']') => break,
                        Some(b'"') => {
                            let end = line[j + 1..].find('"').ok_or("unterminated quoted code")?;
                            codes.push(&line[j + 1..j + 1 + end]);
                            j += end + 2;
                        }
                        Some(_) => {
                            let end = line[j..].find([' ', ']']).map_or(line.len(), |e| j + e);
                            codes.push(&line[j..end]);
                            j = end;
                        }
                    }
                }
                out.push(Tok::Codes(codes));
                i = j + 1;
            }
            b'{' => {
                let end = line[i + 1..].find('}').ok_or("unterminated code set '{'")?;
                out.push(Tok::Set(line[i + 1..i + 1 + end].trim()));
                i += end + 2;
            }
            _ => {
                let end = line[i..].find([' ', '\t']).map_or(line.len(), |e| i + e);
                out.push(Tok::Word(&line[i..end]));
                i = end;
            }
        }
    }
    Ok(out)
}

fn usage(w: &str) -> Result<Usage, String> {
    match w {
        "R" => Ok(Usage::Required),
        "S" => Ok(Usage::Situational),
        "N" => Ok(Usage::NotUsed),
        _ => Err(format!("usage {w:?} must be R, S or N")),
    }
}

fn max(w: &str) -> Result<Max, String> {
    if w == ">1" {
        return Ok(None);
    }
    match w.parse::<u32>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(format!("maximum {w:?} must be a positive number or >1")),
    }
}

fn data_type(w: &str) -> Result<DataType, String> {
    Ok(match w {
        "AN" => DataType::AN,
        "ID" => DataType::ID,
        "DT" => DataType::DT,
        "TM" => DataType::TM,
        "R" => DataType::R,
        "B" => DataType::B,
        _ => match w.strip_prefix('N').and_then(|d| d.parse::<u8>().ok()) {
            Some(d) if d <= 9 => DataType::N(d),
            _ => {
                return Err(format!(
                    "data type {w:?} is not one of AN ID DT TM N0..N9 R B"
                ))
            }
        },
    })
}

fn position(w: &str) -> Result<u8, String> {
    match w.parse::<u8>() {
        Ok(n) if n > 0 && w.len() == 2 => Ok(n),
        _ => Err(format!("position {w:?} must be two digits, 01..99")),
    }
}

fn word<'a>(t: &[Tok<'a>], i: usize, what: &str) -> Result<&'a str, String> {
    match t.get(i) {
        Some(Tok::Word(w)) => Ok(w),
        _ => Err(format!("expected {what} as item {}", i + 1)),
    }
}

fn quoted<'a>(t: &[Tok<'a>], i: usize) -> Result<&'a str, String> {
    match t.get(i) {
        Some(Tok::Quoted(q)) => Ok(q),
        _ => Err(format!("expected a quoted name as item {}", i + 1)),
    }
}

/// The optional `x<repeat>` item at `i`: the repeat (1 when absent) and the index of
/// the item after it.
fn repeat_at(t: &[Tok<'_>], i: usize) -> Result<(u16, usize), String> {
    match t.get(i) {
        Some(Tok::Word(w)) => w
            .strip_prefix('x')
            .and_then(|n| n.parse::<u16>().ok())
            .filter(|n| *n > 0)
            .map(|r| (r, i + 1))
            .ok_or_else(|| format!("{w:?} should be a repeat like x5")),
        _ => Ok((1, i)),
    }
}

/// `el <NN> <ref> <usage> <type> <min>-<max> [x<repeat>] "<name>" [codes] {set}`
fn element(t: &[Tok<'_>]) -> Result<ElementDef, String> {
    let pos = position(word(t, 1, "a position")?)?;
    let reference = word(t, 2, "a data element reference number")?.to_string();
    let usage = usage(word(t, 3, "a usage")?)?;
    let data_type = data_type(word(t, 4, "a data type")?)?;
    let len = word(t, 5, "min-max lengths")?;
    let (min, max_len) = len
        .split_once('-')
        .and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?)))
        .ok_or_else(|| format!("lengths {len:?} must be <min>-<max>"))?;
    if min > max_len || max_len == 0 {
        return Err(format!(
            "lengths {len:?}: min must not exceed max, max must be > 0"
        ));
    }
    let (repeat, mut i) = repeat_at(t, 6)?;
    let name = quoted(t, i)?.to_string();
    i += 1;
    let mut codes = Vec::new();
    let mut code_set = None;
    for tok in &t[i..] {
        match tok {
            Tok::Codes(c) => codes.extend(c.iter().map(|s| s.to_string())),
            Tok::Set(s) => code_set = Some(s.to_string()),
            other => return Err(format!("unexpected {other:?} after the element name")),
        }
    }
    codes.sort();
    codes.dedup();
    Ok(ElementDef {
        position: pos,
        reference,
        usage,
        data_type,
        min,
        max: max_len,
        repeat,
        name,
        codes,
        code_set,
        components: Vec::new(),
        code_keys: Vec::new(),
    })
}

/// `composite <NN> <Cref> <usage> [x<repeat>] "<name>"`
fn composite(t: &[Tok<'_>]) -> Result<ElementDef, String> {
    let pos = position(word(t, 1, "a position")?)?;
    let reference = word(t, 2, "a composite reference (C023)")?.to_string();
    let usage = usage(word(t, 3, "a usage")?)?;
    let (repeat, i) = repeat_at(t, 4)?;
    let name = quoted(t, i)?.to_string();
    if t.len() > i + 1 {
        return Err("unexpected items after the composite name".into());
    }
    Ok(ElementDef {
        position: pos,
        reference,
        usage,
        data_type: DataType::AN,
        min: 0,
        max: 0,
        repeat,
        name,
        codes: Vec::new(),
        code_set: None,
        components: Vec::new(),
        code_keys: Vec::new(),
    })
}

fn rule(t: &[Tok<'_>]) -> Result<SyntaxRule, String> {
    let w = word(t, 1, "a rule like P0203")?;
    if !w.is_ascii() || w.is_empty() {
        return Err(format!(
            "rule {w:?} must be a letter and two-digit positions"
        ));
    }
    let (k, digits) = w.split_at(1);
    let kind = match k {
        "P" => RuleKind::Paired,
        "R" => RuleKind::Required,
        "E" => RuleKind::Exclusion,
        "C" => RuleKind::Conditional,
        "L" => RuleKind::ListConditional,
        _ => return Err(format!("rule {w:?} must start with P, R, E, C or L")),
    };
    if digits.len() < 4 || digits.len() % 2 != 0 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "rule {w:?} must list two or more two-digit positions"
        ));
    }
    let positions = (0..digits.len())
        .step_by(2)
        .map(|i| digits[i..i + 2].parse::<u8>().unwrap_or(0))
        .collect();
    Ok(SyntaxRule { kind, positions })
}

#[derive(Clone, Copy)]
enum Open {
    Loop(usize),
    Seg(usize),
    Composite(usize, usize),
}

/// Reads a guide table. `file` names it in errors.
///
/// ```
/// let text = r#"
/// guide T1 005010T
/// name "Test"
/// transaction 999 FA
/// source "hand-written"
/// seg ST R 1 "Header"
///   el 01 143 R ID 3-3 "Transaction Set Identifier Code" [999]
///   el 02 329 R AN 4-9 "Control Number"
/// loop 1000 R >1 "Things"
///   seg NM1 R 1 "Name"
///     el 01 98 R ID 2-3 "Entity" [41 40 "NOT A CODE"]
///     composite 02 C023 S "Place"
///       el 01 1331 R AN 1-2 "Facility"
///     rule P0102
/// seg SE R 1 "Trailer"
///   el 01 96 R N0 1-10 "Count"
///   el 02 329 R AN 4-9 "Control Number"
/// "#;
/// let g = x12_core::schema::parse_guide("t.guide", text).unwrap();
/// assert_eq!(g.counts(), (1, 3, 7));
/// assert_eq!(g.loops[1].id, "1000");
/// assert!(g.segments[1].elements[0].allows(b"40"));
/// assert!(g.segments[1].elements[0].allows(b"NOT A CODE"));
/// ```
pub fn parse_guide(file: &str, text: &str) -> Result<Guide, GuideError> {
    let err = |line: usize, message: String| GuideError {
        file: file.to_string(),
        line,
        message,
    };
    let mut g = Guide {
        id: String::new(),
        version: String::new(),
        aliases: Vec::new(),
        name: String::new(),
        transaction: String::new(),
        functional_id: String::new(),
        sources: Vec::new(),
        context: None,
        select: None,
        loops: vec![LoopDef {
            key: loop_key(""),
            id: String::new(),
            name: "Transaction Set".into(),
            usage: Usage::Required,
            max: Some(1),
            parent: None,
            children: Vec::new(),
            trigger: 0,
            by_key: Vec::new(),
            run_start: Vec::new(),
            line: 0,
            required_children: Vec::new(),
            by_id: Vec::new(),
        }],
        segments: Vec::new(),
        segment_keys: Vec::new(),
        key_slots: Vec::new(),
        qualifier_spots: Vec::new(),
    };
    // open[d] is what an item at indent d+1 belongs to
    let mut open: Vec<Open> = Vec::new();
    let mut in_body = false;
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        let toks = lex(raw).map_err(|m| err(line_no, m))?;
        let Some(Tok::Word(kw)) = toks.first() else {
            if toks.is_empty() {
                continue;
            }
            return Err(err(line_no, "a line must start with a keyword".into()));
        };
        if raw.starts_with('\t') || indent % 2 != 0 {
            return Err(err(line_no, "indent with two spaces per level".into()));
        }
        let depth = indent / 2;
        let fail = |m: String| err(line_no, m);
        if !in_body {
            match *kw {
                "guide" => {
                    g.id = word(&toks, 1, "an id").map_err(fail)?.to_string();
                    g.version = word(&toks, 2, "a version label").map_err(fail)?.to_string();
                    continue;
                }
                "name" => {
                    g.name = quoted(&toks, 1).map_err(fail)?.to_string();
                    continue;
                }
                "transaction" => {
                    g.transaction = word(&toks, 1, "ST01").map_err(fail)?.to_string();
                    g.functional_id = word(&toks, 2, "GS01").map_err(fail)?.to_string();
                    continue;
                }
                "alias" => {
                    for t in &toks[1..] {
                        match t {
                            Tok::Word(w) => g.aliases.push(w.to_string()),
                            _ => return Err(fail("alias takes version labels".into())),
                        }
                    }
                    continue;
                }
                "context" => {
                    let seg = word(&toks, 1, "a segment id").map_err(fail)?.to_string();
                    let pos = position(word(&toks, 2, "an element position").map_err(fail)?)
                        .map_err(fail)?;
                    g.context = Some((seg, pos));
                    continue;
                }
                "select" => {
                    let seg = word(&toks, 1, "a segment id").map_err(fail)?.to_string();
                    let pos = position(word(&toks, 2, "an element position").map_err(fail)?)
                        .map_err(fail)?;
                    let Some(Tok::Codes(values)) = toks.get(3) else {
                        return Err(fail(
                            "select needs values in brackets, e.g. select BHT 02 [11]".into(),
                        ));
                    };
                    g.select = Some((seg, pos, values.iter().map(|v| v.to_string()).collect()));
                    continue;
                }
                "source" => {
                    g.sources.push(quoted(&toks, 1).map_err(fail)?.to_string());
                    continue;
                }
                _ => in_body = true,
            }
        }
        if depth > open.len() {
            return Err(fail(format!(
                "indented {depth} levels under something {} deep",
                open.len()
            )));
        }
        open.truncate(depth);
        let parent_loop = |open: &[Open]| -> Result<usize, String> {
            match open.last() {
                None => Ok(0),
                Some(Open::Loop(l)) => Ok(*l),
                _ => Err(format!(
                    "{kw} must sit directly in a loop (or at the top level)"
                )),
            }
        };
        match *kw {
            "loop" => {
                let parent = parent_loop(&open).map_err(fail)?;
                let id = word(&toks, 1, "a loop id").map_err(fail)?.to_string();
                let usage = usage(word(&toks, 2, "a usage").map_err(fail)?).map_err(fail)?;
                let max = max(word(&toks, 3, "a maximum").map_err(fail)?).map_err(fail)?;
                let name = quoted(&toks, 4).map_err(fail)?.to_string();
                let idx = g.loops.len();
                g.loops.push(LoopDef {
                    key: loop_key(&id),
                    id,
                    name,
                    usage,
                    max,
                    parent: Some(parent),
                    children: Vec::new(),
                    trigger: 0,
                    by_key: Vec::new(),
                    run_start: Vec::new(),
                    line: line_no,
                    required_children: Vec::new(),
                    by_id: Vec::new(),
                });
                g.loops[parent].children.push(Child::Loop(idx));
                open.push(Open::Loop(idx));
            }
            "seg" => {
                let parent = parent_loop(&open).map_err(fail)?;
                let id = word(&toks, 1, "a segment id").map_err(fail)?.to_string();
                if !(2..=3).contains(&id.len())
                    || !id
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                {
                    return Err(fail(format!(
                        "segment id {id:?} must be 2-3 upper-case letters or digits"
                    )));
                }
                let usage = usage(word(&toks, 2, "a usage").map_err(fail)?).map_err(fail)?;
                let max = max(word(&toks, 3, "a maximum use").map_err(fail)?).map_err(fail)?;
                let name = quoted(&toks, 4).map_err(fail)?.to_string();
                let idx = g.segments.len();
                g.segments.push(SegmentDef {
                    key: id_key(id.as_bytes()),
                    id,
                    name,
                    usage,
                    max,
                    loop_index: parent,
                    elements: Vec::new(),
                    rules: Vec::new(),
                    qualifier: None,
                    line: line_no,
                    period: None,
                    by_position: [0; 64],
                    required: 0,
                    program: CheckProgram::default(),
                });
                g.loops[parent].children.push(Child::Segment(idx));
                open.push(Open::Seg(idx));
            }
            "el" => {
                let e = element(&toks).map_err(fail)?;
                match open.last() {
                    Some(Open::Seg(s)) => {
                        let seg = &mut g.segments[*s];
                        if seg
                            .elements
                            .last()
                            .is_some_and(|l| l.position >= e.position)
                        {
                            return Err(fail(format!(
                                "element {:02} is out of order in {}",
                                e.position, seg.id
                            )));
                        }
                        seg.elements.push(e);
                    }
                    Some(Open::Composite(s, c)) => {
                        let comp = &mut g.segments[*s].elements[*c];
                        if comp
                            .components
                            .last()
                            .is_some_and(|l| l.position >= e.position)
                        {
                            return Err(fail(format!(
                                "component {:02} is out of order",
                                e.position
                            )));
                        }
                        comp.components.push(e);
                    }
                    _ => return Err(fail("el must sit in a seg or a composite".into())),
                }
            }
            "composite" => {
                let c = composite(&toks).map_err(fail)?;
                let Some(Open::Seg(s)) = open.last().copied() else {
                    return Err(fail("composite must sit in a seg".into()));
                };
                let seg = &mut g.segments[s];
                if seg
                    .elements
                    .last()
                    .is_some_and(|l| l.position >= c.position)
                {
                    return Err(fail(format!(
                        "element {:02} is out of order in {}",
                        c.position, seg.id
                    )));
                }
                seg.elements.push(c);
                let ci = seg.elements.len() - 1;
                open.push(Open::Composite(s, ci));
            }
            "rule" => {
                let r = rule(&toks).map_err(fail)?;
                let Some(Open::Seg(s)) = open.last().copied() else {
                    return Err(fail("rule must sit in a seg".into()));
                };
                g.segments[s].rules.push(r);
            }
            other => return Err(fail(format!("unknown keyword {other:?}"))),
        }
    }
    if g.id.is_empty() || g.version.is_empty() || g.transaction.is_empty() {
        return Err(err(
            1,
            "the header needs `guide <id> <version>` and `transaction <ST01> <GS01>`".into(),
        ));
    }
    if g.sources.is_empty() {
        return Err(err(
            1,
            "the header needs at least one `source \"...\"` citation".into(),
        ));
    }
    for l in &mut g.loops[1..] {
        match l.children.first() {
            Some(Child::Segment(t)) => l.trigger = *t,
            _ => {
                return Err(err(
                    l.line,
                    format!("loop {} must start with a segment (its trigger)", l.id),
                ))
            }
        }
    }
    // child lookup by segment id, for the engine
    let mut keys: Vec<u32> = g.segments.iter().map(|s| s.key).collect();
    keys.sort_unstable();
    keys.dedup();
    let size = (keys.len() * 4).next_power_of_two().max(8);
    let mut slots = vec![(0u32, 0u16); size];
    for (i, k) in keys.iter().enumerate() {
        let mut at = slot_of(*k, size - 1);
        while slots[at].1 != 0 {
            at = (at + 1) & (size - 1);
        }
        slots[at] = (*k, i as u16 + 1);
    }
    g.key_slots = slots;
    g.segment_keys = keys;
    for li in 0..g.loops.len() {
        let mut by_key: Vec<(u32, Vec<u32>)> = Vec::new();
        for (ci, child) in g.loops[li].children.iter().enumerate() {
            let def = match child {
                Child::Segment(s) => *s,
                Child::Loop(l) => g.loops[*l].trigger,
            };
            let key = g.segments[def].key;
            match by_key.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(ci as u32),
                None => by_key.push((key, vec![ci as u32])),
            }
        }
        by_key.sort_by_key(|(k, _)| *k);
        let mut by_id = vec![0u16; g.segment_keys.len()];
        for (at, (k, _)) in by_key.iter().enumerate() {
            if let Ok(i) = g.segment_keys.binary_search(k) {
                by_id[i] = at as u16 + 1;
            }
        }
        g.loops[li].by_id = by_id;
        g.loops[li].by_key = by_key;
        let mut run_start = Vec::with_capacity(g.loops[li].children.len());
        for (ci, child) in g.loops[li].children.iter().enumerate() {
            let start = match (ci.checked_sub(1), child) {
                (Some(prev), Child::Segment(s)) => match g.loops[li].children[prev] {
                    Child::Segment(p) if g.segments[p].key == g.segments[*s].key => run_start[prev],
                    _ => ci as u32,
                },
                _ => ci as u32,
            };
            run_start.push(start);
        }
        g.loops[li].run_start = run_start;
        let required: Vec<u32> = g.loops[li]
            .children
            .iter()
            .enumerate()
            .filter(|(_, c)| match c {
                Child::Segment(s) => g.segments[*s].usage == Usage::Required,
                Child::Loop(l) => g.loops[*l].usage == Usage::Required,
            })
            .map(|(ci, _)| ci as u32)
            .collect();
        g.loops[li].required_children = required;
    }
    for s in &mut g.segments {
        for r in &s.rules {
            if let Some(p) = r
                .positions
                .iter()
                .find(|p| !s.elements.iter().any(|e| e.position == **p))
            {
                return Err(err(
                    s.line,
                    format!(
                        "rule {} names element {p:02}, which {} does not define",
                        r.notation(),
                        s.id
                    ),
                ));
            }
        }
        for e in &s.elements {
            if e.is_composite() != e.reference.starts_with('C') && !e.components.is_empty() {
                return Err(err(
                    s.line,
                    format!(
                        "{}{:02}: composite references start with C",
                        s.id, e.position
                    ),
                ));
            }
        }
        for (i, e) in s.elements.iter().enumerate() {
            if e.position > 63 {
                return Err(err(
                    s.line,
                    format!(
                        "{}{:02}: element positions above 63 are not supported",
                        s.id, e.position
                    ),
                ));
            }
            s.by_position[usize::from(e.position)] = i as u8 + 1;
            if e.usage == Usage::Required {
                s.required |= 1 << e.position;
            }
        }
        for e in &mut s.elements {
            pack_codes(e);
            for c in &mut e.components {
                pack_codes(c);
            }
        }
        s.period = s
            .elements
            .windows(2)
            .position(|w| w[0].reference == "1250" && w[1].reference == "1251")
            .map(|i| (i, i + 1));
        s.qualifier = s.elements.iter().enumerate().find_map(|(i, e)| {
            if e.is_composite() {
                e.components
                    .iter()
                    .position(|c| !c.codes.is_empty())
                    .map(|c| (i, Some(c)))
            } else {
                (!e.codes.is_empty()).then_some((i, None))
            }
        });
        s.program = CheckProgram::compile(s);
    }
    let mut spots = vec![QualifierSpot::None; g.segment_keys.len()];
    for s in &g.segments {
        let Some((q, c)) = s.qualifier else { continue };
        let Ok(i) = g.segment_keys.binary_search(&s.key) else {
            continue;
        };
        let e = &s.elements[q];
        let here = QualifierSpot::At(e.position, c.map_or(0, |c| e.components[c].position));
        spots[i] = match spots[i] {
            QualifierSpot::None => here,
            seen if seen == here => here,
            _ => QualifierSpot::Mixed,
        };
    }
    g.qualifier_spots = spots;
    Ok(g)
}

/// Fills [`ElementDef::code_keys`] when every code is short enough to pack.
fn pack_codes(e: &mut ElementDef) {
    let keys: Option<Vec<u64>> = e.codes.iter().map(|c| code_key(c.as_bytes())).collect();
    e.code_keys = keys.unwrap_or_default();
    e.code_keys.sort_unstable();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_line() {
        let bad = "guide X 1\ntransaction 837 HC\nsource \"x\"\nseg ST R 1 \"H\"\n  el 1 143 R ID 3-3 \"x\"\n";
        let e = parse_guide("x.guide", bad).unwrap_err();
        assert_eq!(e.line, 5);
        assert!(e.message.contains("two digits"), "{e}");
        let bad = "guide X 1\ntransaction 837 HC\nsource \"x\"\nseg ST Q 1 \"H\"\n";
        assert!(parse_guide("x", bad).unwrap_err().message.contains("usage"));
        let bad = "guide X 1\ntransaction 837 HC\nsource \"x\"\nseg ST R 1 \"H\"\n   el 01 143 R ID 3-3 \"x\"\n";
        assert!(parse_guide("x", bad)
            .unwrap_err()
            .message
            .contains("two spaces"));
        let bad = "guide X 1\ntransaction 837 HC\nsource \"x\"\nseg ST R 1 \"H\"\n  el 02 143 R ID 3-3 \"x\"\n  el 01 143 R ID 3-3 \"x\"\n";
        assert!(parse_guide("x", bad)
            .unwrap_err()
            .message
            .contains("out of order"));
        let bad = "guide X 1\ntransaction 837 HC\nsource \"x\"\nseg ST R 1 \"H\"\n  el 01 143 R ID 3-3 \"x\"\n  rule \u{FFFD}0102\n";
        assert!(parse_guide("x", bad).unwrap_err().message.contains("rule"));
        let bad = "guide X 1\ntransaction 837 HC\nsource \"x\"\nseg ST R 1 \"H\"\n  el 01 143 R ID 3-3 \"x\"\n  rule P0102\n";
        assert!(parse_guide("x", bad)
            .unwrap_err()
            .message
            .contains("does not define"));
    }
}
