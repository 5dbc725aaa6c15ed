// The page of parsed (or evaluated) videos: player, event lanes, playhead, "now" panel, hover probabilities.
// All data comes from the JSON block #page-data; every text is set with textContent, never as markup.
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("page-data").textContent);
  var LABEL_W = 170, MIN_PPS = 0.05, MAX_PPS = 400, FIT_MAX = 120;  // fit videos up to 2 min; longer: a 1-min window
  var $ = function (id) { return document.getElementById(id); };
  var player = $("player"), timeline = $("timeline"), tooltip = $("tooltip");
  var state = { v: null, pps: 10, t: 0, nowKey: null, inner: null, playhead: null, textTrack: null };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function fmt(t) {
    t = Math.max(0, t);
    var h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
    var ss = (s < 10 ? "0" : "") + s.toFixed(1);
    return h ? h + ":" + (m < 10 ? "0" : "") + m + ":" + ss : m + ":" + ss;
  }
  function fmtTick(t) {
    var h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = Math.round(t % 60);
    var ss = (s < 10 ? "0" : "") + s;
    return h ? h + ":" + (m < 10 ? "0" : "") + m + ":" + ss : m + ":" + ss;
  }
  function hasSource() { return !!state.v && !!state.v.src; }
  function now() { return hasSource() && player.readyState > 0 ? player.currentTime : state.t; }
  function trackWidth() { return state.v.duration * state.pps; }
  function viewWidth() { return Math.max(100, timeline.clientWidth - LABEL_W - 2); }

  // ------------------------------------------------------------------ building the lanes
  function classesOf(lane) {
    var seen = {};
    lane.events.forEach(function (e) { seen[e.label] = true; });
    return Object.keys(seen).sort();
  }
  function build() {
    var v = state.v;
    timeline.textContent = "";
    var inner = el("div", "tl-inner");
    var axis = el("div", "row axis");
    axis.appendChild(el("div", "row-label", "time"));
    var axisTrack = el("div", "track");
    axisTrack.dataset.role = "axis";
    axis.appendChild(axisTrack);
    inner.appendChild(axis);
    v.lanes.forEach(function (lane) {
      var head = el("div", "row lane-head lane-" + lane.key);
      var n = lane.events.length;
      head.appendChild(el("div", "row-label", lane.title + " (" + n + ")"));
      head.appendChild(el("div", "track"));
      inner.appendChild(head);
      var classes = classesOf(lane);
      if (!classes.length) {
        var empty = el("div", "row empty lane-" + lane.key);
        empty.appendChild(el("div", "row-label", ""));
        empty.appendChild(el("div", "track", "no events"));
        inner.appendChild(empty);
      }
      classes.forEach(function (label) {
        var row = el("div", "row cls lane-" + lane.key);
        row.dataset.lane = lane.key;
        row.dataset.label = label;
        var name = el("div", "row-label", label);
        name.title = label + " (" + lane.title + ")";
        row.appendChild(name);
        var track = el("div", "track");
        lane.events.forEach(function (e) {
          if (e.label !== label) return;
          var bar = el("div", "bar" + (lane.truth ? " truth" : ""));
          bar.style.left = (100 * e.onset / v.duration) + "%";
          bar.style.width = (100 * (e.offset - e.onset) / v.duration) + "%";
          bar.dataset.onset = e.onset;
          bar.dataset.offset = e.offset;
          track.appendChild(bar);
        });
        row.appendChild(track);
        inner.appendChild(row);
      });
    });
    var ph = el("div");
    ph.id = "playhead";
    inner.appendChild(ph);
    timeline.appendChild(inner);
    state.inner = inner;
    state.playhead = ph;
    zoomTo(v.duration <= FIT_MAX ? viewWidth() / v.duration : viewWidth() / 60, 0);
  }

  function ticks() {
    var axisTrack = state.inner.querySelector(".axis .track");
    axisTrack.textContent = "";
    var steps = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
    var step = steps.find(function (s) { return s * state.pps >= 60; }) || 7200;
    for (var t = 0; t <= state.v.duration + 1e-9; t += step) {
      var tick = el("div", "tick", fmtTick(t));
      tick.style.left = (t * state.pps) + "px";
      if ((state.v.duration - t) * state.pps < 40) tick.classList.add("end");  // label left of its line
      axisTrack.appendChild(tick);
    }
  }

  function zoomTo(pps, anchor) {
    // keep the time under `anchor` (px from the left of the visible lanes) where it is
    var at = (timeline.scrollLeft + anchor) / state.pps;
    state.pps = Math.min(MAX_PPS, Math.max(MIN_PPS, pps));
    state.inner.style.setProperty("--track-w", trackWidth() + "px");
    state.inner.style.width = (LABEL_W + trackWidth()) + "px";
    ticks();
    timeline.scrollLeft = Math.max(0, at * state.pps - anchor);
    state.playhead.style.height = state.inner.scrollHeight + "px";
    update(now());
  }
  function zoomBy(factor) {
    var t = now(), x = t * state.pps - timeline.scrollLeft;
    var anchor = x >= 0 && x <= viewWidth() ? x : viewWidth() / 2;
    zoomTo(state.pps * factor, anchor);
  }

  // ------------------------------------------------------------------ time: playhead, now panel, window
  function active(t) {
    var out = [];
    state.v.lanes.forEach(function (lane) {
      lane.events.forEach(function (e) {
        if (e.onset <= t && t < e.offset) out.push({ lane: lane, e: e });
      });
    });
    return out;
  }
  function renderNow(t) {
    var items = active(t);
    var key = items.map(function (x) { return x.lane.key + "|" + x.e.label + "|" + x.e.onset; }).join(";");
    $("now-time").textContent = fmt(t) + " / " + fmt(state.v.duration);
    if (key === state.nowKey) return;
    state.nowKey = key;
    var list = $("now-list");
    list.textContent = "";
    if (!items.length) { list.appendChild(el("div", "empty", "nothing heard or seen")); return; }
    state.v.lanes.forEach(function (lane) {
      var mine = items.filter(function (x) { return x.lane === lane; });
      if (!mine.length) return;
      list.appendChild(el("div", "lane-name", lane.title));
      var ul = el("ul", "lane-" + lane.key);
      mine.forEach(function (x) {
        var li = el("li", "event", x.e.label);
        li.dataset.lane = lane.key;
        li.dataset.label = x.e.label;
        if (x.e.score !== null && x.e.score !== undefined) {
          li.dataset.score = x.e.score;
          li.appendChild(el("span", "score", x.e.score.toFixed(2)));
        }
        li.title = fmt(x.e.onset) + " \u2013 " + fmt(x.e.offset);
        ul.appendChild(li);
      });
      list.appendChild(ul);
    });
  }
  function update(t) {
    if (!state.v) return;
    state.t = t;
    var x = t * state.pps;
    state.playhead.style.left = (LABEL_W + x) + "px";
    state.playhead.dataset.time = t.toFixed(3);
    renderNow(t);
    if ($("follow").checked && !player.paused) {
      var rel = x - timeline.scrollLeft;
      if (rel < 0 || rel > viewWidth() * 0.9) timeline.scrollLeft = Math.max(0, x - viewWidth() * 0.1);
    }
    var from = timeline.scrollLeft / state.pps, to = Math.min(state.v.duration, from + viewWidth() / state.pps);
    $("window").textContent = "showing " + fmtTick(from) + "\u2013" + fmtTick(to) + " of " + fmtTick(state.v.duration);
  }
  function seek(t) {
    t = Math.min(Math.max(0, t), state.v.duration);
    if (hasSource()) player.currentTime = t;
    update(t);
  }
  function loop() {
    if (!player.paused) update(player.currentTime);
    window.requestAnimationFrame(loop);
  }

  // ------------------------------------------------------------------ pointer: seek and hover
  function trackAt(ev) {
    var track = ev.target.closest ? ev.target.closest(".track") : null;
    return track && state.inner.contains(track) ? track : null;
  }
  function timeAt(track, ev) {
    return (ev.clientX - track.getBoundingClientRect().left) / state.pps;
  }
  timeline.addEventListener("click", function (ev) {
    var track = trackAt(ev);
    if (track) seek(timeAt(track, ev));
  });
  function probsOf(label) { return (state.v.probs || {})[label] || {}; }
  function curve(row) {
    var lane = row.dataset.lane, p = probsOf(row.dataset.label);
    var a = p.audio, vis = p.visual, vals;
    if (lane === "audio" || lane === "gt_audio") vals = a;
    else if (lane === "visual" || lane === "gt_visual") vals = vis;
    else if (a && vis) vals = a.map(function (x, i) { return Math.min(x, vis[i]); });
    if (!vals || !vals.length) return;
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "prob");
    // one unit per second (a per-second series may end after the video does: it covers whole seconds)
    svg.setAttribute("viewBox", "0 0 " + state.v.duration + " 1");
    svg.setAttribute("preserveAspectRatio", "none");
    var pts = ["0,1"];
    vals.forEach(function (x, s) { pts.push(s + "," + (1 - x), (s + 1) + "," + (1 - x)); });
    pts.push(vals.length + ",1");
    var poly = document.createElementNS(ns, "polygon");
    poly.setAttribute("points", pts.join(" "));
    svg.appendChild(poly);
    row.querySelector(".track").appendChild(svg);
  }
  var hovered = null;
  function unhover() {
    if (!hovered) return;
    hovered.classList.remove("hover");
    var svg = hovered.querySelector("svg.prob");
    if (svg) svg.remove();
    hovered = null;
  }
  timeline.addEventListener("mousemove", function (ev) {
    var track = trackAt(ev), row = track ? track.parentNode : null;
    if (!row || !row.classList.contains("cls")) { unhover(); tooltip.hidden = true; return; }
    if (row !== hovered) { unhover(); hovered = row; row.classList.add("hover"); curve(row); }
    var s = Math.floor(timeAt(track, ev)), p = probsOf(row.dataset.label);
    var lines = [row.dataset.label + "   " + fmtTick(s) + "\u2013" + fmtTick(s + 1)];
    if (p.audio && s < p.audio.length) lines.push("p(heard) " + p.audio[s].toFixed(3));
    if (p.visual && s < p.visual.length) lines.push("p(seen)  " + p.visual[s].toFixed(3));
    tooltip.textContent = lines.join("\n");
    tooltip.dataset.label = row.dataset.label;
    tooltip.dataset.second = s;
    tooltip.hidden = false;
    tooltip.style.left = Math.min(ev.clientX + 14, window.innerWidth - tooltip.offsetWidth - 4) + "px";
    tooltip.style.top = (ev.clientY + 14) + "px";
  });
  timeline.addEventListener("mouseleave", function () { unhover(); tooltip.hidden = true; });
  timeline.addEventListener("scroll", function () { update(now()); });

  // ------------------------------------------------------------------ player and captions
  function captions(v) {
    if (state.textTrack) state.textTrack.mode = "disabled";
    state.textTrack = null;
    player.querySelectorAll("track").forEach(function (t) { t.remove(); });
    function fromData() {  // browsers refuse <track> files on file:// pages: the same cues, from the page's data
      var tt = player.addTextTrack("captions", "events", "en");
      (v.cues || []).forEach(function (c) { tt.addCue(new VTTCue(c.start, c.end, c.text)); });
      tt.mode = "showing";
      state.textTrack = tt;
    }
    if (!v.vtt) { fromData(); return; }
    var track = el("track");
    track.kind = "captions";
    track.label = "events";
    track.srclang = "en";
    track.src = v.vtt;
    track.default = true;
    track.addEventListener("error", function () { if (state.v === v) { track.track.mode = "disabled"; fromData(); } });
    player.appendChild(track);
  }
  function show(v) {
    state.v = v;
    state.nowKey = null;
    state.t = 0;
    $("title").textContent = v.name;
    $("subtitle").textContent = v.subtitle || DATA.subtitle || "";
    document.title = v.name + (DATA.title ? " \u2013 " + DATA.title : "");
    var noVideo = $("no-video");
    if (v.src) {
      player.hidden = false;
      noVideo.hidden = true;
      player.src = v.src;
    } else {
      player.removeAttribute("src");
      player.load();
      player.hidden = true;
      noVideo.hidden = false;
      noVideo.textContent = v.note || "no playable video";
    }
    captions(v);
    var links = $("links");
    links.textContent = "";
    (v.links || []).forEach(function (l) {
      var a = el("a", null, l.text);
      a.href = l.href;
      links.appendChild(a);
    });
    $("info").textContent = v.info || "";
    build();
  }
  ["timeupdate", "seeked", "seeking", "loadedmetadata"].forEach(function (name) {
    player.addEventListener(name, function () { update(player.currentTime); });
  });
  player.addEventListener("error", function () {
    if (!state.v || !state.v.src) return;
    var note = $("no-video");
    note.hidden = false;
    note.textContent = "The browser cannot play " + state.v.src + " (moved, or a format it does not decode); " +
      "the lanes still work.";
  });

  // ------------------------------------------------------------------ controls and video choice
  $("zoom-in").addEventListener("click", function () { zoomBy(2); });
  $("zoom-out").addEventListener("click", function () { zoomBy(0.5); });
  $("zoom-fit").addEventListener("click", function () {
    zoomTo(viewWidth() / state.v.duration, 0);
    timeline.scrollLeft = 0;
  });
  timeline.addEventListener("keydown", function (ev) {
    if (ev.key === "+" || ev.key === "=") zoomBy(2);
    else if (ev.key === "-") zoomBy(0.5);
  });
  var select = $("video-select");
  function fromHash() {
    var m = /^#v=(.*)$/.exec(window.location.hash);
    var key = m ? decodeURIComponent(m[1]) : null;
    return DATA.videos.find(function (v) { return v.key === key; }) || DATA.videos[0];
  }
  function choose() {
    var v = fromHash();
    if (!v || v === state.v) return;
    select.value = v.key;
    show(v);
  }
  if (DATA.videos.length > 1) {
    $("picker").hidden = false;
    DATA.videos.forEach(function (v) {
      var opt = el("option", null, v.choice || v.name);
      opt.value = v.key;
      select.appendChild(opt);
    });
    var go = function (step) {
      var i = DATA.videos.indexOf(state.v) + step;
      if (i >= 0 && i < DATA.videos.length) window.location.hash = "v=" + encodeURIComponent(DATA.videos[i].key);
    };
    select.addEventListener("change", function () { window.location.hash = "v=" + encodeURIComponent(select.value); });
    $("prev").addEventListener("click", function () { go(-1); });
    $("next").addEventListener("click", function () { go(1); });
    window.addEventListener("hashchange", choose);
  }
  if (!DATA.videos.length) {
    $("title").textContent = DATA.title || "no videos";
    $("subtitle").textContent = DATA.empty || "no videos to show";
    $("top").hidden = true;
    $("controls").hidden = true;
    return;
  }
  choose();
  window.addEventListener("resize", function () { update(now()); });
  window.requestAnimationFrame(loop);
})();
