// netlab's page: renders a run from its typed record (the JSON in #run).
//
// The record is the run's lines as `--json` printed them, both languages in
// every prose field; `ladder` is the text view's grouping of its packets.
// Everything the record holds is inserted with textContent (never as
// markup). Slides: one per step number (a step and the plain lines after
// it), then the summary. Keys: ← → (and a presenter's PageUp/PageDown) step,
// Home/End go to the first and last; with a packet open, ← → walk the
// packets and Esc closes it (↑ ↓ are left to scroll the panes). The URL's
// #step=N opens step N, #pace=MS sets the play button's pace (1.5 s).
(function () {
  'use strict';
  var errors = [];
  window.addEventListener('error', function (e) {
    errors.push(String(e.message));
    document.body.setAttribute('data-errors', errors.join(' | '));
  });

  var data = JSON.parse(document.getElementById('run').textContent);
  var record = data.record || [];
  var ladder = data.ladder || [];
  var live = data.live || null;
  var SVG = 'http://www.w3.org/2000/svg';
  var OTHERS = '\u0000others';

  var WORDS = {
    en: {
      prev: '◀ Previous', next: 'Next ▶', play: '▶ Play', pause: '❚❚ Pause',
      stepOf: 'Step {n} of {m}', summaryOf: 'Summary ({n} of {m})', errorOf: 'Error ({n} of {m})',
      step: 'Step', summary: 'Summary', failed: 'The run failed',
      ladder: 'The packets, in order (time runs down)',
      hint: 'Click an arrow for its packet’s bytes. Keys: ← → step through, Esc closes a packet.',
      correction: '✎ Correcting the notes', questions: 'Questions this step answers',
      runQuestions: 'Questions this run answers', packets: 'Packets of this step',
      noPackets: 'No packet is sent in this step.',
      offset: 'Offset', hex: 'Hex', field: 'Field', value: 'Value', meaning: 'Meaning',
      bytes: 'bytes', lost: '✗ lost: sent but never arrived',
      lostLegend: '✗ = lost: sent but never arrived',
      group: 'This arrow stands for {n} packets; this is packet {i}.',
      someLost: '{k} of them lost.',
      close: '✕ Close (Esc)', prevPacket: '‹ Previous packet', nextPacket: 'Next packet ›',
      sent: 'sent to', received: 'received from', captured: 'captured on',
      merged: '{list} (merged to fit)', noFields: 'No field table for this packet.',
      ok: '✓ as expected', notOk: '✗ the network said no', printed: 'Every step',
      again: 'a second look'
    },
    zh: {
      prev: '◀ 上一步', next: '下一步 ▶', play: '▶ 播放', pause: '❚❚ 暂停',
      stepOf: '第 {n} 步，共 {m} 步', summaryOf: '小结（{n}/{m}）', errorOf: '错误（{n}/{m}）',
      step: '步骤', summary: '小结', failed: '运行失败',
      ladder: '报文时序图（时间向下）',
      hint: '点击箭头查看该报文的字节。按键：← → 切换步骤，Esc 关闭报文。',
      correction: '✎ 纠正笔记', questions: '本步回答的问题',
      runQuestions: '本次运行回答的问题', packets: '本步的报文',
      noPackets: '这一步没有发送报文。',
      offset: '偏移', hex: '十六进制', field: '字段', value: '值', meaning: '含义',
      bytes: '字节', lost: '✗ 丢失：发出了但没有到达',
      lostLegend: '✗ = 丢失：发出了但没有到达',
      group: '这个箭头代表 {n} 个报文；这是第 {i} 个。',
      someLost: '其中 {k} 个丢失。',
      close: '✕ 关闭（Esc）', prevPacket: '‹ 上一个报文', nextPacket: '下一个报文 ›',
      sent: '发往', received: '收自', captured: '抓包于',
      merged: '{list}（合并以适应宽度）', noFields: '这个报文没有字段表。',
      ok: '✓ 与预期相符', notOk: '✗ 网络拒绝了', printed: '全部步骤',
      again: '再看一次'
    }
  };

  var state = {
    lang: data.lang === 'zh' ? 'zh' : 'en',
    slide: 0,
    timer: null,
    open: null, // {m: [line, packet], arrow, member}; arrow null for an echo with no arrow
    pace: 1500
  };

  // ---- small helpers -------------------------------------------------------
  function has(o, k) { return o !== null && typeof o === 'object' && Object.prototype.hasOwnProperty.call(o, k); }
  function str(v) { return typeof v === 'string' ? v : (v === null || v === undefined ? '' : String(v)); }
  // A Text ({en, zh}) in the page's language.
  function t(x) {
    if (x === null || x === undefined) { return ''; }
    if (typeof x !== 'object') { return str(x); }
    var s = has(x, state.lang) ? str(x[state.lang]) : '';
    return s || (has(x, 'en') ? str(x.en) : '');
  }
  function w(key, args) {
    var s = WORDS[state.lang][key];
    if (args) {
      Object.keys(args).forEach(function (k) { s = s.split('{' + k + '}').join(str(args[k])); });
    }
    return s;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function arr(v) { return Array.isArray(v) ? v : []; }

  // ---- the record ------------------------------------------------------------
  // Participant labels: the first label a step gives an id.
  var labels, questions, slides, slideOfStep, arrowOf;
  function index() {
    labels = new Map();
    record.forEach(function (l) {
      if (l && l.kind === 'step') {
        arr(l.participants).forEach(function (p) {
          if (p && !labels.has(str(p.id))) { labels.set(str(p.id), p.label); }
        });
      }
    });

    questions = new Map();
    Object.keys(data.questions || {}).forEach(function (k) { questions.set(k, data.questions[k]); });

    // Slides: a step number's lines (the step and the plain lines after it), then the summary or error.
    slides = [];
    record.forEach(function (l, i) {
      if (!l) { return; }
      var last = slides[slides.length - 1];
      if (l.kind === 'step') {
        if (last && last.kind === 'step' && last.number === l.number) {
          last.lines.push(i);
          if (last.head === null && !l.plain) { last.head = i; }
        } else {
          slides.push({ kind: 'step', number: l.number, lines: [i], head: l.plain ? null : i });
        }
      } else if (l.kind === 'summary' || l.kind === 'error') {
        slides.push({ kind: l.kind, number: null, lines: [i], head: i });
      }
    });
    slideOfStep = new Map();
    slides.forEach(function (s, i) { if (s.kind === 'step') { slideOfStep.set(s.number, i); } });
    // An echo (a second look at an earlier packet, for its bytes) opens the packet it repeats.
    arrowOf = new Map();
    ladder.forEach(function (a, k) {
      a.members.forEach(function (m, i) {
        var p = packetAt(m) || {};
        arrowOf.set([p.at_us, p.hex, p.from, p.to].join('|'), { arrow: k, member: i });
      });
    });
  }
  index();
  function who(id) {
    id = str(id);
    if (id === OTHERS) { return '…'; }
    var s = labels.has(id) ? t(labels.get(id)) : '';
    return s || id;
  }
  function whoList(ids) { return str(ids).split(',').map(function (id) { return id === '*' ? '*' : who(id); }).join(', '); }
  function packetAt(m) {
    var l = record[m[0]];
    return l && arr(l.packets)[m[1]];
  }
  function original(p) { return arrowOf.get([p.at_us, p.hex, p.from, p.to].join('|')) || null; }
  function currentStep() { var s = slides[state.slide]; return s && s.kind === 'step' ? s.number : null; }

  // ---- the controls -----------------------------------------------------------
  var nav = document.getElementById('controls');
  var buttons = {};
  function button(key, onClick, cls) {
    var b = el('button', cls);
    b.type = 'button';
    b.addEventListener('click', onClick);
    buttons[key] = b;
    return b;
  }
  nav.appendChild(button('prev', function () { go(state.slide - 1); }));
  nav.appendChild(button('play', function () { togglePlay(); }));
  nav.appendChild(button('next', function () { go(state.slide + 1); }));
  var counter = el('span');
  counter.id = 'counter';
  nav.appendChild(counter);
  var langs = el('span', 'langs');
  langs.setAttribute('role', 'group');
  langs.setAttribute('aria-label', '中文 / English');
  var zh = button('zh', function () { setLang('zh'); });
  zh.textContent = '中文';
  zh.lang = 'zh';
  var en = button('en', function () { setLang('en'); });
  en.textContent = 'English';
  en.lang = 'en';
  langs.appendChild(zh);
  langs.appendChild(en);
  nav.appendChild(langs);
  buttons.prev.id = 'prev';
  buttons.next.id = 'next';
  buttons.play.id = 'play';
  zh.id = 'lang-zh';
  en.id = 'lang-en';

  function words() {
    document.documentElement.lang = state.lang;
    buttons.prev.textContent = w('prev');
    buttons.next.textContent = w('next');
    buttons.play.textContent = state.timer ? w('pause') : w('play');
    buttons.play.setAttribute('aria-pressed', state.timer ? 'true' : 'false');
    zh.setAttribute('aria-pressed', state.lang === 'zh' ? 'true' : 'false');
    en.setAttribute('aria-pressed', state.lang === 'en' ? 'true' : 'false');
    var headline = document.getElementById('headline');
    var end = record.filter(function (l) { return l && (l.kind === 'summary' || l.kind === 'error'); })[0];
    if (end) {
      headline.textContent = end.kind === 'summary' ? t(end.title) : t(end.message);
      headline.title = headline.textContent;
    }
  }

  // ---- the ladder ---------------------------------------------------------------
  var pane = document.getElementById('ladder-pane');
  var measureCtx = document.createElement('canvas').getContext('2d');
  function fontOf(weight) {
    var family = getComputedStyle(document.body).fontFamily;
    return weight + ' 16px ' + family;
  }
  function width(text, weight) {
    measureCtx.font = fontOf(weight || '400');
    return measureCtx.measureText(text).width;
  }
  // The longest start of `text` (then "…") no wider than `max` pixels.
  function fit(text, max, weight) {
    if (width(text, weight) <= max) { return text; }
    var chars = Array.from(text);
    var lo = 0, hi = chars.length;
    while (lo < hi) {
      var mid = Math.ceil((lo + hi) / 2);
      if (width(chars.slice(0, mid).join('') + '…', weight) <= max) { lo = mid; } else { hi = mid - 1; }
    }
    return lo > 0 ? chars.slice(0, lo).join('') + '…' : (max >= width('…', weight) ? '…' : '');
  }
  // A short column name: the name, else without its final dot, else its first label(s), cut.
  function abbreviate(name, max) {
    if (width(name, '700') <= max) { return name; }
    var bare = name.replace(/\.$/, '');
    if (width(bare, '700') <= max) { return bare; }
    var parts = bare.split('.');
    var s = parts[0];
    if (s.length <= 2 && parts.length > 1) { s = parts[0] + '.' + parts[1]; }
    return fit(s, max, '700');
  }
  function ends(p) {
    var out = [];
    [str(p.from)].concat(str(p.to).split(',')).forEach(function (id) {
      if (id && id !== '*') { out.push(id); }
    });
    return out;
  }

  // Row height, the step numbers' margin, the narrowest label column and the
  // narrowest and widest participant column, in CSS pixels.
  var ROW = 32, MARGIN = 44, MIN_LABEL = 200, MIN_COL = 56, MAX_COL = 170, HEAD_ROW = 22;

  function drawLadder() {
    clear(pane);
    pane.appendChild(el('h2', null, w('ladder')));
    if (!ladder.length) { return; }
    pane.appendChild(el('p', 'hint', w('hint')));
    var W = Math.max(300, Math.floor(pane.clientWidth - 24));
    // Columns: participants in order of first appearance, the least used merged when too many.
    var names = [], uses = new Map();
    ladder.forEach(function (a) {
      var p = packetAt(a.members[0]) || {};
      ends(p).forEach(function (id) {
        if (!uses.has(id)) { names.push(id); uses.set(id, 0); }
        uses.set(id, uses.get(id) + 1);
      });
    });
    var room = W - MARGIN - MIN_LABEL;
    var fits = Math.max(2, Math.floor(room / MIN_COL));
    var merged = [];
    if (names.length > fits) {
      var order = names.map(function (n, i) { return i; });
      order.sort(function (a, b) { return (uses.get(names[a]) - uses.get(names[b])) || (b - a); });
      var gone = order.slice(0, names.length - (fits - 1)).sort(function (a, b) { return a - b; });
      merged = gone.map(function (i) { return names[i]; });
      names = names.filter(function (n, i) { return gone.indexOf(i) < 0; });
      names.push(OTHERS);
    }
    var col = new Map();
    names.forEach(function (n, i) { col.set(n, i); });
    merged.forEach(function (n) { col.set(n, names.length - 1); });
    var cols = Math.max(1, names.length);
    // The labels get the room their longest needs (drawn bold when current), the columns the rest.
    var longest = 0;
    ladder.forEach(function (a) { longest = Math.max(longest, width(t(a.label), '700')); });
    var labelNeed = Math.max(MIN_LABEL, Math.min(longest + 12, W - MARGIN - cols * MIN_COL - 10));
    var colw = Math.max(MIN_COL, Math.min(MAX_COL, Math.floor((W - MARGIN - labelNeed - 10) / cols)));
    var center = function (i) { return MARGIN + i * colw + colw / 2; };
    var labelX = MARGIN + cols * colw + 10;
    var labelW = Math.max(40, W - labelX - 4);

    // Header: names centred on their columns; when one is too wide, two rows alternate.
    var full = names.map(who);
    var stagger = full.some(function (n) { return width(n, '700') > colw - 8; });
    var maxName = stagger ? 2 * colw - 10 : colw - 8;
    var heads = full.map(function (n) { return abbreviate(n, maxName); });
    // The names stay in view above the arrows as the pane scrolls: their own SVG, sticky.
    var headH = (stagger ? 2 : 1) * HEAD_ROW + 8;
    var headSvg = svg('svg', { id: 'ladder-head', viewBox: '0 0 ' + W + ' ' + headH, width: W, height: headH });
    var top = 6;
    var H = top + ladder.length * ROW + 8;
    var root = svg('svg', { id: 'ladder', viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img' });
    root.appendChild(svg('title', {}, w('ladder')));

    // Bands behind each step's rows (the current one is highlighted), and separators.
    var firstRow = new Map(), lastRow = new Map();
    ladder.forEach(function (a, i) {
      if (!firstRow.has(a.step)) { firstRow.set(a.step, i); }
      lastRow.set(a.step, i);
    });
    firstRow.forEach(function (i, step) {
      var y = top + i * ROW;
      root.appendChild(svg('rect', { 'class': 'band', 'data-step': step, x: 0, y: y, width: W, height: (lastRow.get(step) - i + 1) * ROW }));
      if (i > 0) { root.appendChild(svg('line', { 'class': 'sep', x1: 0, x2: W, y1: y, y2: y })); }
    });
    names.forEach(function (n, i) {
      var head = svg('text', { 'class': 'who', x: center(i), y: 18 + (stagger ? (i % 2) * HEAD_ROW : 0), 'text-anchor': 'middle', 'data-id': n }, heads[i]);
      head.appendChild(svg('title', {}, n === OTHERS ? merged.map(who).join(', ') : full[i]));
      headSvg.appendChild(head);
      headSvg.appendChild(svg('line', { 'class': 'life', x1: center(i), x2: center(i), y1: 18 + (stagger ? HEAD_ROW : 0) + 6, y2: headH }));
      root.appendChild(svg('line', { 'class': 'life', x1: center(i), x2: center(i), y1: 0, y2: H - 2 }));
    });

    var lastStep = null;
    ladder.forEach(function (a, k) {
      var p = packetAt(a.members[0]) || {};
      var y = top + k * ROW + ROW / 2;
      var n = a.members.length;
      var allLost = a.lost > 0 && a.lost === n;
      var g = svg('g', { 'class': 'arrow' + (allLost ? ' lost' : ''), 'data-k': k, 'data-step': a.step, 'data-n': n, tabindex: 0, role: 'button' });
      g.appendChild(svg('rect', { 'class': 'hit', x: 0, y: y - ROW / 2, width: W, height: ROW }));
      if (a.step !== lastStep) {
        g.appendChild(svg('text', { 'class': 'num', x: 4, y: y + 5 }, '[' + a.step + ']'));
        lastStep = a.step;
      }
      var from = col.has(str(p.from)) ? col.get(str(p.from)) : null;
      var tos = [];
      str(p.to).split(',').forEach(function (id) {
        if (col.has(id) && col.get(id) !== from && tos.indexOf(col.get(id)) < 0) { tos.push(col.get(id)); }
      });
      if (from !== null && tos.length) {
        var fx = center(from);
        tos.forEach(function (c, j) {
          var tx = center(c);
          var dir = tx > fx ? 1 : -1;
          if (allLost) {
            var mid = (fx + tx) / 2;
            g.appendChild(svg('line', { 'class': 'shaft', x1: fx, y1: y, x2: mid - dir * 8, y2: y }));
            if (j === 0) { g.appendChild(svg('text', { 'class': 'x', x: mid, y: y + 6, 'text-anchor': 'middle' }, '✗')); }
          } else {
            g.appendChild(svg('line', { 'class': 'shaft', x1: fx, y1: y, x2: tx - dir * 9, y2: y }));
            g.appendChild(svg('path', { 'class': 'head', d: 'M' + tx + ',' + y + ' l' + (-dir * 11) + ',-6 v12 z' }));
          }
        });
      } else if (from !== null) {
        g.appendChild(svg('circle', { 'class': 'dot', cx: center(from), cy: y, r: 5 }));
      }
      var label = t(a.label);
      var text = svg('text', { 'class': 'label', x: labelX, y: y + 5 }, fit(label, labelW, '700'));
      g.appendChild(text);
      var tip = label + ' — ' + who(p.from) + ' → ' + whoList(p.to);
      g.appendChild(svg('title', {}, tip));
      g.setAttribute('aria-label', tip);
      g.addEventListener('click', function () { openPacket(k, 0); });
      g.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); openPacket(k, 0); }
      });
      root.appendChild(g);
    });
    pane.appendChild(headSvg);
    pane.appendChild(root);

    // Legend: abbreviated and merged columns, and what ✗ means.
    var legend = [];
    heads.forEach(function (h, i) {
      if (names[i] !== OTHERS && h !== full[i] && h !== full[i].replace(/\.$/, '')) { legend.push(h + ' = ' + full[i]); }
    });
    if (merged.length) { legend.push('… = ' + w('merged', { list: merged.map(who).join(', ') })); }
    if (ladder.some(function (a) { return a.lost > 0; })) { legend.push(w('lostLegend')); }
    if (legend.length) { pane.appendChild(el('p', 'legend', legend.join('; '))); }
    paintLadder(false);
  }

  // Mark the current step's arrows, and bring them into view.
  function paintLadder(scroll) {
    var cur = currentStep();
    var atEnd = slides[state.slide] && slides[state.slide].kind !== 'step';
    var firstCur = null;
    Array.prototype.forEach.call(pane.querySelectorAll('g.arrow'), function (g) {
      var s = Number(g.getAttribute('data-step'));
      var k = Number(g.getAttribute('data-k'));
      var slide = slideOfStep.has(s) ? slideOfStep.get(s) : -1;
      g.classList.toggle('cur', s === cur);
      g.classList.toggle('future', !atEnd && slide > state.slide);
      g.classList.toggle('sel', state.open !== null && state.open.arrow === k);
      if (s === cur && firstCur === null) { firstCur = g; }
    });
    Array.prototype.forEach.call(pane.querySelectorAll('rect.band'), function (r) {
      r.classList.toggle('cur', Number(r.getAttribute('data-step')) === cur);
    });
    if (scroll && firstCur) {
      var band = pane.querySelector('rect.band.cur') || firstCur;
      var b = band.getBoundingClientRect(), pr = pane.getBoundingClientRect();
      var head = document.getElementById('ladder-head');
      var from = head ? head.getBoundingClientRect().bottom : pr.top;
      if (Number(ladder[0].step) === cur) { pane.scrollTop = 0; }
      else if (b.top < from || b.bottom > pr.bottom) {
        pane.scrollTop += b.top - from - Math.max(8, Math.min(60, (pr.bottom - from - b.height) / 3));
      }
    }
  }

  // ---- the narration ---------------------------------------------------------
  function questionList(ids, heading) {
    var frag = document.createDocumentFragment();
    ids = arr(ids).map(str);
    if (!ids.length) { return frag; }
    frag.appendChild(el('h3', null, heading));
    var ul = el('ul', 'qs');
    ids.forEach(function (id) {
      var li = el('li');
      li.appendChild(el('span', 'qid', id));
      li.appendChild(document.createTextNode(questions.has(id) ? t(questions.get(id)) : ''));
      ul.appendChild(li);
    });
    frag.appendChild(ul);
    return frag;
  }

  // One slide's narration into `box`; with `live`, its packets as buttons that open them.
  function narrate(box, index, live) {
    var s = slides[index];
    if (!s) { return; }
    var head = s.head !== null ? record[s.head] : null;
    if (s.kind === 'step') {
      var where = w('stepOf', { n: s.number, m: slides.filter(function (x) { return x.kind === 'step'; }).length });
      var section = head && head.section ? t(head.section) : '';
      box.appendChild(el('p', 'where', section ? where + ' · ' + section : where));
      var title = head ? t(head.title) : t(record[s.lines[0]].title);
      box.appendChild(el('h2', 'step-title', title));
      var out = s.lines.filter(function (i) { return record[i].plain && i !== s.head; });
      if (head === null) { out = out.slice(1); }
      if (out.length) {
        box.appendChild(el('div', 'output', out.map(function (i) { return t(record[i].title); }).join('\n')));
      }
      if (head) {
        if (t(head.detail)) { box.appendChild(el('p', 'detail', t(head.detail))); }
        var facts = arr(head.facts);
        if (facts.length) {
          var dl = el('dl', 'facts');
          facts.forEach(function (f) {
            dl.appendChild(el('dt', null, t(f.label)));
            dl.appendChild(el('dd', null, t(f.value)));
          });
          box.appendChild(dl);
        }
        if (head.correction && t(head.correction)) {
          var c = el('div', 'correction');
          c.appendChild(el('strong', null, w('correction')));
          c.appendChild(document.createTextNode(t(head.correction)));
          box.appendChild(c);
        }
      }
      var qs = [];
      s.lines.forEach(function (i) { arr(record[i].questions).forEach(function (q) { if (qs.indexOf(q) < 0) { qs.push(q); } }); });
      box.appendChild(questionList(qs, w('questions')));
      var mine = [], echoes = [];
      ladder.forEach(function (a, k) { if (a.step === s.number) { mine.push(k); } });
      s.lines.forEach(function (li) {
        arr(record[li].packets).forEach(function (p, pi) { if (p && p.echo) { echoes.push([li, pi]); } });
      });
      if (live || mine.length || echoes.length) { box.appendChild(el('h3', null, w('packets'))); }
      if (!mine.length && !echoes.length) {
        if (live) { box.appendChild(el('p', 'none', w('noPackets'))); }
        return;
      }
      var ul = el('ul', 'pks');
      mine.forEach(function (k) {
        var a = ladder[k];
        var p = packetAt(a.members[0]) || {};
        var text = who(p.from) + ' → ' + whoList(p.to) + ' · ' + t(a.label) + (a.lost === a.members.length && a.lost ? ' ✗' : '');
        var li = el('li');
        if (live) {
          var b = el('button', 'pk', text);
          b.type = 'button';
          b.setAttribute('data-k', k);
          b.addEventListener('click', function () { openPacket(k, 0); });
          li.appendChild(b);
        } else {
          li.textContent = text;
        }
        ul.appendChild(li);
      });
      echoes.forEach(function (m) {
        var p = packetAt(m);
        var text = '🔍 ' + w('again') + ': ' + who(p.from) + ' → ' + whoList(p.to) + ' · ' + (t(p.label) || t(p.summary));
        var li = el('li');
        if (live) {
          var b = el('button', 'pk echo', text);
          b.type = 'button';
          b.addEventListener('click', function () { openEcho(m); });
          li.appendChild(b);
        } else {
          li.textContent = text;
        }
        ul.appendChild(li);
      });
      box.appendChild(ul);
    } else if (s.kind === 'summary') {
      box.appendChild(el('p', 'where', w('summaryOf', { n: index + 1, m: slides.length })));
      box.appendChild(el('h2', 'step-title', t(head.title)));
      if (typeof head.ok === 'boolean') { box.appendChild(el('p', head.ok ? 'ok' : 'bad', head.ok ? w('ok') : w('notOk'))); }
      var lines = arr(head.lines);
      if (lines.length) {
        var ul2 = el('ul', 'lines');
        lines.forEach(function (x) { ul2.appendChild(el('li', null, t(x))); });
        box.appendChild(ul2);
      }
      box.appendChild(questionList(head.questions, w('runQuestions')));
    } else {
      box.appendChild(el('p', 'where', w('errorOf', { n: index + 1, m: slides.length })));
      box.appendChild(el('h2', 'step-title', w('failed')));
      box.appendChild(el('p', 'detail', t(head.message)));
    }
  }

  var narration = document.getElementById('narration');
  function drawNarration() {
    clear(narration);
    narrate(narration, state.slide, true);
    narration.scrollTop = 0;
    var s = slides[state.slide];
    counter.textContent = s ? (state.slide + 1) + ' / ' + slides.length : '';
    buttons.prev.disabled = state.slide <= 0;
    buttons.next.disabled = state.slide >= slides.length - 1;
  }

  var printAll = document.getElementById('print-all');
  function drawPrint() {
    clear(printAll);
    slides.forEach(function (s, i) {
      var box = el('section', 'slide');
      narrate(box, i, false);
      printAll.appendChild(box);
    });
  }

  // ---- a packet's bytes ----------------------------------------------------------
  var packetBox = document.getElementById('packet');
  function hexOf(h, a, b) {
    var out = [];
    var n = Math.max(0, b - a);
    for (var i = a; i < b && i < a + 32; i++) { out.push(h.substr(i * 2, 2)); }
    var s = out.join(' ');
    if (n > 32) { s += ' … (+' + (n - 32) + ')'; }
    return s;
  }
  function offsets(a, b) {
    if (b <= a) { return '—'; }
    return b - a === 1 ? String(a) : a + '–' + (b - 1);
  }
  // Open arrow k's packet `member`; the narration moves to its step unless `stay`.
  function openPacket(k, member, stay) {
    var a = ladder[k];
    if (!a) { return; }
    member = Math.max(0, Math.min(a.members.length - 1, member || 0));
    state.open = { m: a.members[member], arrow: k, member: member };
    if (!stay && slideOfStep.has(a.step) && slideOfStep.get(a.step) !== state.slide) {
      state.slide = slideOfStep.get(a.step);
      drawNarration();
      remember();
    }
    drawPacket();
    paintLadder(true);
  }
  // An echo's packet: the one it repeats (the narration stays), or itself.
  function openEcho(m) {
    var o = original(packetAt(m) || {});
    if (o) { openPacket(o.arrow, o.member, true); return; }
    state.open = { m: m, arrow: null, member: null };
    drawPacket();
    paintLadder(false);
  }
  function closePacket() {
    if (state.open === null) { return; }
    var k = state.open.arrow;
    state.open = null;
    packetBox.hidden = true;
    clear(packetBox);
    paintLadder(false);
    var g = k === null ? null : pane.querySelector('g.arrow[data-k="' + k + '"]');
    if (g) { g.focus({ preventScroll: true }); }
  }
  function drawPacket() {
    clear(packetBox);
    if (state.open === null) { packetBox.hidden = true; return; }
    var o = state.open;
    var a = o.arrow === null ? null : ladder[o.arrow];
    var line = record[o.m[0]] || {};
    var p = packetAt(o.m) || {};
    var header = document.getElementById('top');
    packetBox.style.top = header.getBoundingClientRect().bottom + 'px';
    var bar = el('div', 'bar');
    var title = t(p.label) || t(p.summary) || (a ? t(a.label) : '');
    bar.appendChild(el('h2', null, '[' + line.number + '] ' + title));
    var prev = el('button', null, w('prevPacket'));
    prev.type = 'button';
    prev.disabled = !a || (o.arrow === 0 && o.member === 0);
    prev.addEventListener('click', function () { movePacket(-1); });
    var next = el('button', null, w('nextPacket'));
    next.type = 'button';
    next.disabled = !a || (o.arrow === ladder.length - 1 && o.member === a.members.length - 1);
    next.addEventListener('click', function () { movePacket(1); });
    var close = el('button', null, w('close'));
    close.type = 'button';
    close.id = 'close-packet';
    close.addEventListener('click', closePacket);
    bar.appendChild(prev);
    bar.appendChild(next);
    bar.appendChild(close);
    packetBox.appendChild(bar);
    var hex = str(p.hex);
    var verb = { sent: w('sent'), received: w('received'), captured: w('captured') }[str(p.direction)] || '';
    var transport = state.lang === 'zh' && str(p.transport) === 'ethernet' ? '以太网' : str(p.transport);
    var meta = who(p.from) + ' → ' + whoList(p.to) + ' · ' + (verb ? verb + ' ' : '') + transport + ' ' + str(p.peer) +
      ' · ' + Math.floor(hex.length / 2) + ' ' + w('bytes') + (t(p.summary) ? ' · ' + t(p.summary) : '');
    packetBox.appendChild(el('p', 'meta', meta));
    if (p.lost) { packetBox.appendChild(el('p', 'lostmark', w('lost'))); }
    if (a && a.members.length > 1) {
      var note = w('group', { n: a.members.length, i: o.member + 1 });
      if (a.lost && a.lost < a.members.length) { note += ' ' + w('someLost', { k: a.lost }); }
      packetBox.appendChild(el('p', 'group', note));
    }
    var fields = arr(p.fields);
    if (!fields.length) { packetBox.appendChild(el('p', 'none', w('noFields'))); }
    else {
      var table = el('table', 'fields');
      table.id = 'fields';
      var cg = el('colgroup');
      ['off', 'hex', 'field', 'value', 'meaning'].forEach(function (c) { cg.appendChild(el('col', c)); });
      table.appendChild(cg);
      var thead = el('thead'), hr = el('tr');
      [w('offset'), w('hex'), w('field'), w('value'), w('meaning')].forEach(function (h) { hr.appendChild(el('th', null, h)); });
      thead.appendChild(hr);
      table.appendChild(thead);
      var tbody = el('tbody');
      fields.forEach(function (f) {
        var s = Number(f.start) || 0, e = Number(f.end) || 0;
        var tr = el('tr');
        tr.appendChild(el('td', 'off', offsets(s, e)));
        tr.appendChild(el('td', 'hex', hexOf(hex, s, e)));
        tr.appendChild(el('td', 'field', str(f.name)));
        tr.appendChild(el('td', 'value', t(f.value)));
        tr.appendChild(el('td', 'meaning', t(f.meaning)));
        tbody.appendChild(tr);
      });
      table.appendChild(tbody);
      packetBox.appendChild(table);
    }
    packetBox.hidden = false;
    packetBox.scrollTop = 0;
  }
  // The packet before or after the one shown: a group's next member, else the next arrow.
  function movePacket(d) {
    if (state.open === null || state.open.arrow === null) { return; }
    var k = state.open.arrow, i = state.open.member + d;
    if (i < 0) { k -= 1; if (k < 0) { return; } i = ladder[k].members.length - 1; }
    if (i >= ladder[k].members.length) { k += 1; i = 0; if (k >= ladder.length) { return; } }
    openPacket(k, i);
  }

  // ---- stepping ---------------------------------------------------------------------
  function remember() {
    var s = slides[state.slide];
    var hash = s && s.kind === 'step' ? '#step=' + s.number : '#' + (s ? s.kind : '');
    try { history.replaceState(null, '', hash); } catch (e) { /* a file: URL may refuse; stepping still works */ }
  }
  function go(i) {
    if (!slides.length) { return; }
    i = Math.max(0, Math.min(slides.length - 1, i));
    if (state.open !== null) { closePacket(); }
    if (i === state.slide && narration.firstChild) { return; }
    state.slide = i;
    drawNarration();
    paintLadder(true);
    remember();
  }
  function togglePlay() {
    if (state.timer) {
      clearInterval(state.timer);
      state.timer = null;
    } else {
      if (state.slide >= slides.length - 1) { go(0); }
      state.timer = setInterval(function () {
        if (state.slide >= slides.length - 1) { togglePlay(); return; }
        go(state.slide + 1);
      }, state.pace);
    }
    words();
  }
  function setLang(lang) {
    if (lang === state.lang) { return; }
    state.lang = lang;
    render();
  }

  document.addEventListener('keydown', function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) { return; }
    if (state.open !== null) {
      if (e.key === 'Escape') { e.preventDefault(); closePacket(); }
      if (e.key === 'ArrowLeft') { e.preventDefault(); movePacket(-1); }
      if (e.key === 'ArrowRight') { e.preventDefault(); movePacket(1); }
      return;
    }
    switch (e.key) {
      case 'ArrowRight': case 'PageDown': e.preventDefault(); go(state.slide + 1); break;
      case 'ArrowLeft': case 'PageUp': e.preventDefault(); go(state.slide - 1); break;
      case 'Home': e.preventDefault(); go(0); break;
      case 'End': e.preventDefault(); go(slides.length - 1); break;
      default: break;
    }
  });

  function render() {
    words();
    drawLadder();
    drawNarration();
    drawPrint();
    if (state.open !== null) { drawPacket(); }
    paintLadder(true);
  }

  var resizing = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { drawLadder(); paintLadder(true); if (state.open !== null) { drawPacket(); } }, 100);
  });

  // The URL says where to start: #step=N, #summary, #pace=MS.
  var hash = location.hash.replace(/^#/, '');
  hash.split('&').forEach(function (part) {
    var kv = part.split('=');
    if (kv[0] === 'step' && slideOfStep.has(Number(kv[1]))) { state.slide = slideOfStep.get(Number(kv[1])); }
    if ((kv[0] === 'summary' || kv[0] === 'error') && slides.length) { state.slide = slides.length - 1; }
    if (kv[0] === 'pace' && Number(kv[1]) >= 100) { state.pace = Number(kv[1]); }
  });
  render();
  document.body.setAttribute('data-ready', '1');

  // ---- live (netlab serve) -------------------------------------------------
  // The class server's page follows /events: each record that arrives (one
  // JSON line per event) makes the page fetch its run's record and ladder
  // again (/live.json; the ladder's grouping is the server's). A student
  // who is on the last slide follows the run; one who went back stays
  // where they are, with their own language and open packet.
  if (live) {
    var pending = null;
    var reload = function () {
      pending = null;
      var x = new XMLHttpRequest();
      x.open('GET', '/live.json?lang=' + state.lang);
      x.onload = function () {
        if (x.status !== 200) { return; }
        var d = JSON.parse(x.responseText);
        var newRun = d.live && d.live.run !== live.run;
        var following = state.slide >= slides.length - 1 || newRun;
        if (newRun) { closePacket(); state.slide = 0; }
        data = d;
        record = d.record || [];
        ladder = d.ladder || [];
        live = d.live;
        index();
        if (following && slides.length) { state.slide = slides.length - 1; }
        render();
        drawRuns();
        document.body.setAttribute('data-run', String(live.run));
        document.body.setAttribute('data-records', String(record.length));
      };
      x.send();
    };
    // The session's earlier runs, each a page of its own (/runs/N.html).
    var drawRuns = function () {
      var runs = document.getElementById('runs');
      if (!runs) {
        runs = el('span', 'runs');
        runs.id = 'runs';
        nav.appendChild(runs);
      }
      clear(runs);
      for (var r = 1; r < live.run; r++) {
        var a = el('a', null, '#' + r);
        a.href = '/runs/' + r + '.html?lang=' + state.lang;
        a.target = '_blank';
        runs.appendChild(a);
        runs.appendChild(document.createTextNode(' '));
      }
    };
    drawRuns();
    document.body.setAttribute('data-run', String(live.run));
    document.body.setAttribute('data-records', String(record.length));
    var events = new EventSource('/events?from=' + live.next);
    events.onmessage = function () {
      if (pending === null) { pending = setTimeout(reload, 100); }
    };
  }
})();
