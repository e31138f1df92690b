//! The page: one self-contained HTML file of a run (`--html FILE`, or
//! `netlab render RUN.jsonl --html FILE` from a saved `--json` run).
//!
//! Rendered from the run's JSON objects, so a student's saved trace gives the
//! same page as a live run. The ladder is an SVG with one `g.arrow` per line
//! of the text view's ladder (look-alike packets, and a busy step's
//! conversations, are one arrow; its `data-n` says how many records it stands
//! for); clicking an arrow shows its packet's fields with their bytes and
//! meanings, its step's explanation and the questions it answers. No external
//! script, font or image: the page works offline, projects at 1280×720 and
//! prints on A4. Opening it as `page.html#packet=N` clicks arrow N (how the
//! browser test and the screenshot reach a field table).

use std::path::Path;

use serde_json::{json, Value};

use super::{ladder, Body, Lang, Line, Sink};
use crate::error::{Error, Result};

/// Column width and row height of the ladder, in SVG units.
const COL: usize = 112;
const ROW: usize = 26;
const LEFT: usize = 46;
const TOP: usize = 44;

/// The page's own words, in the run's language.
fn words(lang: Lang) -> Value {
    match lang {
        Lang::En => json!({
            "ladder": "The packets, in order (time runs down)",
            "hint": "Click an arrow to see that packet's bytes and fields.",
            "step": "Step", "questions": "Questions", "field": "Field", "bytes": "Bytes",
            "value": "Value", "meaning": "Meaning", "lost": "lost: sent but never arrived",
            "summary": "Summary", "packet": "Packet", "from": "from", "to": "to",
            "group": "This arrow stands for {n} packets; shown is the first. The run's JSON and its capture file hold every one.",
        }),
        Lang::Zh => json!({
            "ladder": "报文时序图（时间向下）",
            "hint": "点击一个箭头，查看该报文的字节和字段。",
            "step": "步骤", "questions": "回答的问题", "field": "字段", "bytes": "字节",
            "value": "值", "meaning": "含义", "lost": "丢失：发出了但没有到达",
            "summary": "小结", "packet": "报文", "from": "从", "to": "到",
            "group": "这个箭头代表 {n} 个报文，这里显示第一个。运行的 JSON 和抓包文件里每一个都有。",
        }),
    }
}

/// Escape text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The ladder's lines, grouped as the text view groups them: look-alike
/// packets in a row, and a busy step's conversations, are one line each.
fn ladder_lines(packets: &[(u64, Value)], lang: Lang) -> Vec<(Vec<usize>, String)> {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let rows: Vec<ladder::Row> = packets
        .iter()
        .map(|(step, p)| ladder::Row {
            step: *step,
            from: s(&p["from"]),
            to: s(&p["to"]),
            label: s(&p["label"]),
            lost: p["lost"].as_bool().unwrap_or(false),
            // A run saved before `protocol` was recorded groups by the label's first word.
            kind: p["protocol"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| s(&p["label"]).split(' ').next().unwrap_or("").to_string()),
        })
        .collect();
    ladder::collapse(&rows)
        .into_iter()
        .map(|l| {
            let label = ladder::line_label(&rows, &l.members, l.busy, lang);
            (l.members, label)
        })
        .collect()
}

/// The ladder as SVG: participants in order of first appearance, one arrow
/// (a `g.arrow`) per line of the ladder; its `data-i` is the packet record
/// it shows, `data-n` how many records it stands for.
fn svg(packets: &[(u64, Value)], lines: &[(Vec<usize>, String)]) -> String {
    let mut names: Vec<String> = Vec::new();
    for (_, p) in packets {
        let from = p["from"].as_str().unwrap_or("");
        let tos = p["to"].as_str().unwrap_or("");
        for n in std::iter::once(from).chain(tos.split(',')) {
            if !n.is_empty() && n != "*" && !names.iter().any(|x| x == n) {
                names.push(n.to_string());
            }
        }
    }
    let x = |n: &str| {
        names
            .iter()
            .position(|m| m == n)
            .map(|i| LEFT + COL / 2 + i * COL)
    };
    let width = LEFT + names.len().max(1) * COL + 260;
    let height = TOP + lines.len() * ROW + 20;
    let mut s = format!(
        r#"<svg id="ladder" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">
<defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>
"#
    );
    for (i, n) in names.iter().enumerate() {
        let cx = LEFT + COL / 2 + i * COL;
        s.push_str(&format!(
            r#"<text class="who" x="{cx}" y="18" text-anchor="middle">{}</text><line class="life" x1="{cx}" y1="26" x2="{cx}" y2="{}"/>
"#,
            esc(n),
            height - 10
        ));
    }
    let mut last_step = None;
    for (row, (members, label)) in lines.iter().enumerate() {
        let i = members[0];
        let n = members.len();
        let (step, p) = &packets[i];
        let y = TOP + row * ROW;
        // A group is drawn lost only when all of it was.
        let lost = members
            .iter()
            .all(|&m| packets[m].1["lost"].as_bool().unwrap_or(false));
        let from = x(p["from"].as_str().unwrap_or(""));
        let tos: Vec<usize> = p["to"]
            .as_str()
            .unwrap_or("")
            .split(',')
            .filter_map(&x)
            .filter(|t| Some(*t) != from)
            .collect();
        let class = if lost { "arrow lost" } else { "arrow" };
        s.push_str(&format!(
            r#"<g class="{class}" data-i="{i}" data-n="{n}" tabindex="0"><rect class="hit" x="0" y="{}" width="{width}" height="{ROW}"/>"#,
            y - ROW / 2 - 2
        ));
        if last_step != Some(*step) {
            s.push_str(&format!(
                r#"<text class="num" x="4" y="{}">[{step}]</text>"#,
                y + 4
            ));
            last_step = Some(*step);
        }
        match from {
            Some(fx) if !tos.is_empty() => {
                for tx in &tos {
                    let end = if lost { (fx + tx) / 2 } else { *tx };
                    let marker = if lost {
                        ""
                    } else {
                        r#" marker-end="url(#head)""#
                    };
                    s.push_str(&format!(
                        r#"<line x1="{fx}" y1="{y}" x2="{end}" y2="{y}"{marker}/>"#
                    ));
                    if lost {
                        s.push_str(&format!(
                            r#"<text class="x" x="{end}" y="{}" text-anchor="middle">✗</text>"#,
                            y + 5
                        ));
                    }
                }
                let far = tos
                    .iter()
                    .copied()
                    .max_by_key(|t| t.abs_diff(fx))
                    .unwrap_or(fx);
                let lx = fx.min(far) + fx.abs_diff(far) / 2;
                s.push_str(&format!(
                    r#"<text class="label" x="{lx}" y="{}" text-anchor="middle">{}</text>"#,
                    y - 5,
                    esc(label)
                ));
            }
            Some(fx) => s.push_str(&format!(
                r#"<circle cx="{fx}" cy="{y}" r="4"/><text class="label" x="{}" y="{}">{}</text>"#,
                fx + 8,
                y + 4,
                esc(label)
            )),
            None => s.push_str(&format!(
                r#"<text class="label" x="{LEFT}" y="{}">{}</text>"#,
                y + 4,
                esc(label)
            )),
        }
        s.push_str("</g>\n");
    }
    s.push_str("</svg>");
    s
}

const STYLE: &str = r#"
body{font:16px/1.45 system-ui,"Noto Sans CJK SC","Noto Sans",sans-serif;margin:0;color:#1b1b1b;background:#fff}
header{padding:12px 20px;border-bottom:1px solid #ccc}
h1{font-size:22px;margin:0 0 4px}
main{display:flex;gap:16px;padding:12px 20px;align-items:flex-start}
#pane-ladder{flex:1 1 55%;overflow:auto;max-height:calc(100vh - 120px)}
#panel{flex:1 1 45%;max-height:calc(100vh - 120px);overflow:auto;border-left:3px solid #2a6;padding-left:14px}
#panel h2{font-size:18px;margin:4px 0}#panel h3{font-size:16px;margin:8px 0 2px}
svg text{font-size:13px;font-family:system-ui,"Noto Sans CJK SC",sans-serif}
svg .who{font-weight:bold;font-size:14px}
svg .label{paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}
svg .life{stroke:#999;stroke-dasharray:3 3}
svg .arrow line{stroke:#1a4f8a;stroke-width:2}
svg .arrow path,svg marker path{fill:#1a4f8a}
svg .arrow.lost line{stroke:#c0392b;stroke-dasharray:5 3}
svg .arrow .x{fill:#c0392b;font-weight:bold;font-size:16px}
svg .hit{fill:transparent;cursor:pointer}
svg .arrow:hover .hit,svg .arrow.sel .hit{fill:#fff3c4}
svg .num{fill:#666}
table{border-collapse:collapse;width:100%;font-size:13px}
td,th{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
td.hex,td.range{font-family:ui-monospace,monospace;white-space:nowrap}
.qs{color:#1a4f8a}
.summary{padding:8px 20px;border-top:1px solid #ccc}
@media print{#pane-ladder,#panel{max-height:none;overflow:visible}main{display:block}#panel{border:0;padding:0}@page{size:A4;margin:12mm}svg{max-width:100%;height:auto}}
"#;

const SCRIPT: &str = r#"
(function(){
  var errors=[];window.addEventListener('error',function(e){errors.push(String(e.message));document.body.dataset.errors=errors.join(' | ');});
  var run=JSON.parse(document.getElementById('run').textContent);
  var W=run.words;
  function el(tag,attrs,text){var e=document.createElement(tag);for(var k in attrs){e.setAttribute(k,attrs[k]);}if(text!==undefined){e.textContent=text;}return e;}
  function hex(h,a,b){var out=[];for(var i=a;i<b&&i<a+16;i++){out.push(h.substr(i*2,2));}if(b-a>16){out.push('…');}return out.join(' ');}
  function show(i){
    var p=run.packets[i];if(!p){return;}var s=run.steps[p.step_index];var panel=document.getElementById('panel');
    panel.textContent='';
    document.querySelectorAll('g.arrow.sel').forEach(function(g){g.classList.remove('sel');});
    var g=document.querySelector('g.arrow[data-i="'+i+'"]');if(g){g.classList.add('sel');}
    panel.appendChild(el('h2',{},W.step+' '+s.number+' · '+s.title));
    if(s.detail){panel.appendChild(el('p',{class:'detail'},s.detail));}
    if(s.correction){panel.appendChild(el('p',{class:'correction'},'✎ '+s.correction));}
    if(s.questions&&s.questions.length){panel.appendChild(el('p',{class:'qs'},W.questions+': '+s.questions.join(' ')));}
    var pk=p.packet;
    panel.appendChild(el('h3',{},W.packet+': '+pk.label+(pk.lost?' — ✗ '+W.lost:'')));
    if(p.count>1){panel.appendChild(el('p',{class:'group'},W.group.replace('{n}',p.count)));}
    panel.appendChild(el('p',{},W.from+' '+pk.from+' '+W.to+' '+pk.to+' · '+pk.transport+' '+pk.peer+' · '+pk.length+' '+W.bytes+(pk.summary?' · '+pk.summary:'')));
    var t=el('table',{id:'fields'});var hr=el('tr');[W.bytes,'',W.field,W.value,W.meaning].forEach(function(h){hr.appendChild(el('th',{},h));});t.appendChild(hr);
    (pk.fields||[]).forEach(function(f){var r=el('tr');r.appendChild(el('td',{class:'range'},f.start+'..'+f.end));r.appendChild(el('td',{class:'hex'},hex(pk.hex,f.start,f.end)));r.appendChild(el('td',{},f.name));r.appendChild(el('td',{},f.value));r.appendChild(el('td',{},f.meaning||''));t.appendChild(r);});
    panel.appendChild(t);
  }
  document.querySelectorAll('g.arrow').forEach(function(g){
    g.addEventListener('click',function(){show(Number(g.dataset.i));});
    g.addEventListener('keydown',function(e){if(e.key==='Enter'){show(Number(g.dataset.i));}});
  });
  var m=/packet=(\d+)/.exec(location.hash);
  if(m){var g=document.querySelector('g.arrow[data-i="'+m[1]+'"]');if(g){g.dispatchEvent(new MouseEvent('click',{bubbles:true}));}}
  document.body.dataset.ready='1';
})();
"#;

/// The page for a run's JSON objects (in the shape of one language).
fn page_values(lines: &[Value], lang: Lang) -> String {
    let steps: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "step").collect();
    let summary = lines.iter().find(|l| l["kind"] == "summary");
    let demo = lines
        .first()
        .and_then(|l| l["demo"].as_str())
        .unwrap_or("netlab");
    let mut packets: Vec<(u64, Value)> = Vec::new();
    let mut step_of: Vec<usize> = Vec::new();
    for (si, s) in steps.iter().enumerate() {
        for p in s["packets"].as_array().into_iter().flatten() {
            let number = s["number"].as_u64().unwrap_or(si as u64 + 1);
            packets.push((number, p.clone()));
            step_of.push(si);
        }
    }
    let arrows = ladder_lines(&packets, lang);
    // The page carries the packets its arrows show; a group's others are in
    // the run's JSON and capture file (a bulk phase has thousands).
    let mut index: Vec<Value> = vec![Value::Null; packets.len()];
    for (members, _) in &arrows {
        let i = members[0];
        index[i] =
            json!({"step_index": step_of[i], "packet": packets[i].1, "count": members.len()});
    }
    let step_info: Vec<Value> = steps
        .iter()
        .map(|s| {
            json!({"number": s["number"], "title": s["title"], "detail": s["detail"],
                   "correction": s["correction"], "questions": s["questions"]})
        })
        .collect();
    let data = json!({"words": words(lang), "steps": step_info, "packets": index});
    // A "</" inside the JSON would end the script element early.
    let data = data.to_string().replace("</", "<\\/");
    let title = summary
        .and_then(|s| s["title"].as_str())
        .unwrap_or(demo)
        .to_string();
    let w = words(lang);
    let summary_html = summary
        .map(|s| {
            format!(
                r#"<section class="summary"><h2>{}</h2><p>{}</p><p class="qs">{}: {}</p></section>"#,
                esc(w["summary"].as_str().unwrap_or("")),
                esc(s["title"].as_str().unwrap_or("")),
                esc(w["questions"].as_str().unwrap_or("")),
                esc(&s["questions"]
                    .as_array()
                    .map(|q| q.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "))
                    .unwrap_or_default())
            )
        })
        .unwrap_or_default();
    format!(
        r#"<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>netlab {demo}: {title}</title><style>{STYLE}</style></head>
<body><header><h1>netlab {demo}</h1><div>{title_e}</div></header>
<main><section id="pane-ladder"><h2>{ladder}</h2><p>{hint}</p>{svg}</section>
<aside id="panel"><p>{hint}</p></aside></main>
{summary_html}
<script type="application/json" id="run">{data}</script>
<script>{SCRIPT}</script></body></html>
"#,
        lang = lang.code(),
        demo = esc(demo),
        title = esc(&title),
        title_e = esc(&title),
        ladder = esc(w["ladder"].as_str().unwrap_or("")),
        hint = esc(w["hint"].as_str().unwrap_or("")),
        svg = svg(&packets, &arrows),
    )
}

/// A line of the record in the shape the page's script reads: prose in one language.
fn flat(line: &Line, lang: Lang) -> Value {
    let mut v = serde_json::to_value(line).unwrap_or(Value::Null);
    let pick = |v: &mut Value| {
        if let Some(s) = v.get(lang.code()).cloned() {
            *v = s;
        }
    };
    for k in ["title", "detail", "correction", "section"] {
        if let Some(t) = v.get_mut(k) {
            pick(t);
        }
    }
    let labels: std::collections::HashMap<String, String> = match &line.body {
        Body::Step(s) => s
            .step
            .participants
            .iter()
            .map(|p| (p.id.clone(), p.label.get(lang).to_string()))
            .collect(),
        _ => Default::default(),
    };
    if let Some(ps) = v.get_mut("packets").and_then(Value::as_array_mut) {
        for p in ps {
            for k in ["label", "summary"] {
                if let Some(t) = p.get_mut(k) {
                    pick(t);
                }
            }
            for k in ["from", "to"] {
                if let Some(Value::String(id)) = p.get_mut(k) {
                    if let Some(l) = labels.get(id.as_str()) {
                        *id = l.clone();
                    }
                }
            }
            let n = p["hex"].as_str().map_or(0, |h| h.len() / 2);
            p["length"] = n.into();
            if let Some(fs) = p.get_mut("fields").and_then(Value::as_array_mut) {
                for f in fs {
                    if let Some(t) = f.get_mut("value") {
                        pick(t);
                    }
                    if let Some(t) = f.get_mut("meaning") {
                        pick(t);
                    }
                }
            }
        }
    }
    v
}

/// The page for a run's lines, in `lang`.
pub fn page(lines: &[Line], lang: Lang) -> String {
    let values: Vec<Value> = lines.iter().map(|l| flat(l, lang)).collect();
    page_values(&values, lang)
}

/// Collects the run's lines and writes the page when the run ends.
pub struct HtmlSink {
    path: std::path::PathBuf,
    file: Option<std::fs::File>,
    lines: Vec<Line>,
    lang: Lang,
}

impl HtmlSink {
    /// A page for `path` in `lang` (opened now: a path that cannot be written fails before the run).
    pub fn create(path: &Path, lang: Lang) -> Result<Self> {
        Ok(HtmlSink {
            path: path.to_path_buf(),
            file: Some(crate::private::create_output(path)?),
            lines: Vec::new(),
            lang,
        })
    }
}

impl Sink for HtmlSink {
    fn line(&mut self, line: &Line) -> Result<()> {
        self.lines.push(line.clone());
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        match self.file.take() {
            Some(f) => write_to(&self.path, f, &self.lines, self.lang),
            None => Ok(()),
        }
    }

    fn is_file(&self) -> bool {
        true
    }
}

/// Write the page for a run to `f`, opened on `path` earlier (so a bad path
/// fails before the run, and a named pipe is opened once).
pub fn write_to(path: &Path, mut f: std::fs::File, lines: &[Line], lang: Lang) -> Result<()> {
    use std::io::Write as _;
    f.write_all(page(lines, lang).as_bytes())
        .and_then(|()| f.flush())
        .map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// Read a saved `--json` run (JSON Lines) for `netlab render`: every line
/// must be a netlab/2 record.
pub fn read_run(path: &Path) -> Result<Vec<Line>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut lines = Vec::new();
    for (n, l) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(l).map_err(|e| {
            Error::usage(crate::text::tx(
                format!("{} line {}: not a JSON object ({e}); render reads what a run printed with --json", path.display(), n + 1),
                format!("{} 第 {} 行：不是 JSON 对象；render 读取的是运行时用 --json 打印的内容", path.display(), n + 1),
            ))
        })?;
        if v["schema"] != super::SCHEMA {
            return Err(Error::usage(crate::text::tx(
                format!(
                    "{} line {}: not a {} object (saved by another netlab version?)",
                    path.display(),
                    n + 1,
                    super::SCHEMA
                ),
                format!(
                    "{} 第 {} 行：不是 {} 对象（是别的 netlab 版本保存的？）",
                    path.display(),
                    n + 1,
                    super::SCHEMA
                ),
            )));
        }
        let line: Line = serde_json::from_value(v).map_err(|e| {
            Error::usage(crate::text::tx(
                format!(
                    "{} line {}: not a netlab record ({e})",
                    path.display(),
                    n + 1
                ),
                format!(
                    "{} 第 {} 行：不是 netlab 记录（{e}）",
                    path.display(),
                    n + 1
                ),
            ))
        })?;
        lines.push(line);
    }
    if lines.is_empty() {
        return Err(Error::usage(crate::text::tx(
            format!("{}: empty; save a run with --json first", path.display()),
            format!("{}：是空的；请先用 --json 保存一次运行", path.display()),
        )));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_arrow_per_packet_and_the_json_cannot_close_the_script() {
        let lines = vec![
            json!({"schema": "netlab/1", "kind": "step", "demo": "x", "number": 1, "title": "a </script>", "detail": "",
                   "questions": ["Q4"], "packets": [
                {"from": "h1", "to": "h2", "label": "ping", "lost": false, "fields": [], "hex": "", "length": 0},
                {"from": "h2", "to": "h1,r1", "label": "b", "lost": true, "fields": [], "hex": "", "length": 0}]}),
            json!({"schema": "netlab/1", "kind": "summary", "demo": "x", "title": "done", "questions": ["Q4"]}),
        ];
        let p = page_values(&lines, Lang::En);
        assert_eq!(p.matches("<g class=\"arrow").count(), 2);
        assert_eq!(p.matches("data-n=\"1\"").count(), 2);
        assert!(p.contains("arrow lost"));
        assert_eq!(
            p.matches("</script>").count(),
            2,
            "only the two real script ends"
        );
        assert!(
            !p.contains("http://") || p.matches("http://").count() == 1,
            "nothing external but the SVG namespace"
        );
    }

    #[test]
    fn a_busy_step_is_one_arrow_per_conversation_and_counts_every_record() {
        let pk = |from: &str, to: &str, label: String| {
            json!({"from": from, "to": to, "label": label, "lost": false, "protocol": "TCP",
                   "fields": [{"name": "tcp.seq"}], "hex": "00", "length": 1})
        };
        let mut packets = Vec::new();
        for i in 0..50 {
            packets.push(pk("h1", "h2", format!("TCP 100 B seq={i}")));
            packets.push(pk("h2", "h1", format!("ACK {i}")));
        }
        let lines = vec![
            json!({"schema": "netlab/1", "kind": "step", "demo": "x", "number": 1, "title": "bulk", "detail": "",
                   "questions": [], "packets": packets}),
            json!({"schema": "netlab/1", "kind": "summary", "demo": "x", "title": "done", "questions": []}),
        ];
        let p = page_values(&lines, Lang::En);
        assert_eq!(
            p.matches("<g class=\"arrow").count(),
            2,
            "one per direction"
        );
        let counts: usize = p
            .split("data-n=\"")
            .skip(1)
            .map(|x| x.split('"').next().unwrap().parse::<usize>().unwrap())
            .sum();
        assert_eq!(counts, 100, "the arrows stand for every record");
        assert!(p.contains("TCP 100 B seq=… ×50"), "the text ladder's label");
        // The page carries the two packets it shows, not all hundred.
        assert_eq!(p.matches("\"tcp.seq\"").count(), 2);
    }
}
