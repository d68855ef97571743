(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("sith-data").textContent);
  var C = D.concepts, IM = D.images, SVGNS = "http://www.w3.org/2000/svg";
  var root = document.getElementById("report");

  function el(tag, attrs) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") e.textContent = attrs[k]; else if (attrs[k] != null) e.setAttribute(k, attrs[k]);
    }
    for (var i = 2; i < arguments.length; i++) if (arguments[i] != null) e.append(arguments[i]);
    return e;
  }
  function sv(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }
  var STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  function colour(v) {
    if (v == null || isNaN(v)) return "#cccccc";
    v = Math.max(0, Math.min(1, v));
    var x = v * (STOPS.length - 1), i = Math.min(STOPS.length - 2, Math.floor(x)), f = x - i, a = STOPS[i], b = STOPS[i + 1];
    return "rgb(" + [0, 1, 2].map(function (j) { return Math.round(a[j] + (b[j] - a[j]) * f); }).join(",") + ")";
  }
  function fmt(v, d) { return v == null ? "—" : Number(v).toFixed(d); }
  function mean(a) { var s = 0, n = 0; a.forEach(function (v) { if (v != null) { s += v; n++; } }); return n ? s / n : null; }
  function conceptText(c, n) {
    var parts = [];
    for (var i = 0; i < c.length && parts.length < n; i += 2) if (c[i + 1] > 0) parts.push(C[c[i]]);
    return parts.join(", ");
  }
  function legend(label, lo, hi) {
    var bar = el("canvas", {"class": "bar", width: 160, height: 10});
    var g = bar.getContext("2d");
    for (var x = 0; x < 160; x++) { g.fillStyle = colour(x / 159); g.fillRect(x, 0, 1, 10); }
    return el("div", {"class": "legend"}, label + " " + lo, bar, hi);
  }
  function section(id, title) {
    var s = el("section", {id: id}, el("h2", {text: title}));
    root.append(s);
    nav.append(el("a", {href: "#" + id, text: title}));
    return s;
  }

  // ---------------------------------------------------------------- header
  var nav = el("nav");
  var shown = D.sources.filter(function (s) { return s.shown; }).map(function (s) { return s.name; });
  root.append(el("p", {"class": "muted", text: "Outputs shown: " + (shown.join(", ") || "none")
      + (D.sources.length > shown.length ? " · not shown: " + D.sources.filter(function (s) { return !s.shown; }).map(function (s) { return s.name; }).join(", ") : "")}));
  root.append(nav);
  if (D.unreadable_images.length) {
    root.append(el("p", {"class": "note", id: "unreadable", text: D.unreadable_images.length + (D.per_image ? " image(s)" : " matched image(s)") + " could not be read for thumbnails (shown as their id): "
        + D.unreadable_images.slice(0, 10).join(", ") + (D.unreadable_images.length > 10 ? ", …" : "")}));
  }

  // ---------------------------------------------------------------- explanations
  // Ids: "s<source>" for the vision tower's VO heads (s0-L3-H1-V0), "s<source>-text" for the text tower's,
  // with "-qk" and "-mlp" after them for QK pairs and MLP neurons.
  D.explanations.forEach(function (src, si) {
    var suffix = D.explanations.length > 1 ? ": " + src.name : "";
    var more = !!(src.qk || src.mlp || src.text);
    if (!more || src.layers.length || src.vectors.length) {
      var s = section("expl-" + si, (more ? "Attention heads (VO) · vision tower" : "Explanations") + suffix);
      s.append(el("p", {"class": "muted", text: "model " + src.models.join(", ") + " · " + src.layers.length + " layer(s). "
          + "Each cell is one singular vector (columns, by σ rank) of one head (rows), coloured by fidelity; click a cell to open its head."}));
      if (src.layers.length || !more) voLayers(s, "s" + si, src.layers, "h3", "");
      if (src.vectors.length) {
        s.append(el("h3", {text: "Explained input vectors (" + src.vector_count + ")"}));
        var t = el("table", {"class": "inputs"}, el("tr", {}, el("th", {text: "vector"}), el("th", {text: "fidelity"}), el("th", {text: "coherence"}), el("th", {text: "concepts (weight)"})));
        src.vectors.forEach(function (v) {
          t.append(el("tr", {}, el("td", {"class": "num", text: v.vector}), el("td", {"class": "num", text: fmt(v.fid, 3)}), el("td", {"class": "num", text: fmt(v.coh, 3)}), conceptCell(v.c)));
        });
        s.append(t);
        if (src.vector_count > src.vectors.length) s.append(el("p", {"class": "muted", text: "first " + src.vectors.length + " shown"}));
      }
    }
    if (src.qk) qkLayers(section("qk-" + si, "QK circuits · vision tower" + suffix), "s" + si + "-qk", src.qk, "h3");
    if (src.mlp) mlpLayers(section("mlp-" + si, "MLP neurons · vision tower" + suffix), "s" + si + "-mlp", src.mlp, "h3");
    if (src.text) {
      var ts = section("text-" + si, "Text tower" + suffix);
      ts.setAttribute("class", "tower-text");
      ts.append(el("p", {"class": "muted", text: "model " + src.models.join(", ") + " · the text transformer's blocks, explained in the joint space through ln_final and text_projection (SPEC §3b)."}));
      if (src.text.layers.length) {
        ts.append(el("h3", {text: "Attention heads (VO) · text tower"}));
        voLayers(ts, "s" + si + "-text", src.text.layers, "h4", "text ");
      }
      if (src.text.qk.length) qkLayers(ts, "s" + si + "-text-qk", src.text.qk, "h4", el("h3", {text: "QK circuits · text tower"}));
      if (src.text.mlp.length) mlpLayers(ts, "s" + si + "-text-mlp", src.text.mlp, "h4", el("h3", {text: "MLP neurons · text tower"}));
    }
    if (src.skipped) {
      root.append(el("p", {"class": "note", text: "not shown (unknown tower or component): " + Object.keys(src.skipped).map(function (k) { return k + " " + src.skipped[k]; }).join(", ")}));
    }
  });

  function voLayers(s, p, layers, hn, what) {
    s.append(legend("fidelity", "0", "1"));
    layers.forEach(function (layer) {
      var ls = el("div", {"class": "layer", id: p + "-L" + layer.layer}, el(hn, {text: "Layer " + layer.layer}));
      ls.append(heatmap(p, layer, what));
      layer.heads.forEach(function (h) { ls.append(headSection(p, layer, h)); });
      s.append(ls);
    });
  }

  function heatmap(p, layer, what) {
    var heads = layer.heads, cols = 0;
    heads.forEach(function (h) { cols = Math.max(cols, h.sv[h.sv.length - 1] + 1); });
    var cw = 9, ch = 14, left = 30, top = 14;
    var svg = sv("svg", {"class": "heat", width: left + cols * cw, height: top + heads.length * ch, role: "img", "aria-label": "fidelity of " + what + "layer " + layer.layer});
    for (var j = 0; j < cols; j += 8) svg.append(sv("text", {x: left + j * cw, y: 10}, "" + j));
    heads.forEach(function (h, r) {
      svg.append(sv("text", {x: 0, y: top + r * ch + 10}, "h" + h.head));
      h.sv.forEach(function (s, i) {
        var rect = sv("rect", {x: left + s * cw, y: top + r * ch, width: cw - 1, height: ch - 1, fill: colour(h.fid[i]), "class": "cell",
          "data-layer": layer.layer, "data-head": h.head, "data-sv": s});
        rect.append(sv("title", {}, what + "layer " + layer.layer + " head " + h.head + " sv " + s + ": fidelity " + fmt(h.fid[i], 3) + ", σ " + h.sigma[i]
            + " — " + conceptText(h.c[i], 3)));
        svg.append(rect);
      });
    });
    svg.addEventListener("click", function (e) {
      var t = e.target.closest("rect");
      if (t) openHead(p, t.getAttribute("data-layer"), t.getAttribute("data-head"), t.getAttribute("data-sv"));
    });
    return svg;
  }

  function headSection(p, layer, h) {
    var d = el("details", {"class": "head", id: p + "-L" + layer.layer + "-H" + h.head},
      el("summary", {}, el("b", {text: "head " + h.head}), " · " + h.sv.length + " vectors · mean fidelity " + fmt(mean(h.fid), 3) + " · ",
        el("span", {"class": "muted", text: "sv " + h.sv[0] + ": " + conceptText(h.c[0], 3)})));
    var filled = false;
    d.fill = function () { if (!filled) { filled = true; d.append(headTable(p, layer, h)); } };
    if (D.eager) d.fill(); else d.addEventListener("toggle", d.fill);
    return d;
  }

  function conceptCell(c) {
    var td = el("td");
    for (var i = 0; i < c.length; i += 2) td.append(el("span", {"class": "concept"}, C[c[i]] + " ", el("small", {text: fmt(c[i + 1], 2)})));
    return td;
  }

  function imagesCell(m) {
    var td = el("td", {"class": "images"});
    for (var k = 0; k < m.length; k += 2) {
      var im = IM[m[k]];
      td.append(im.src ? el("img", {"class": "thumb", src: im.src, alt: im.id, title: im.id + " (score " + m[k + 1] + ")"})
                       : el("span", {"class": "nothumb", title: "not readable", text: im.id}));
    }
    return td;
  }

  function headTable(p, layer, h) {
    var t = el("table", {"class": "vectors"});
    var head = el("tr", {});
    ["sv", "σ", "fidelity", "residual", "coherence", "concepts (weight)"].concat(h.m ? ["top images"] : []).forEach(function (x) { head.append(el("th", {text: x})); });
    t.append(head);
    h.sv.forEach(function (s, i) {
      var tr = el("tr", {"class": "vec", id: p + "-L" + layer.layer + "-H" + h.head + "-V" + s});
      var first = el("td", {"class": "num", text: s});
      if (h.deg && h.deg.indexOf(s) >= 0) first.append(el("span", {"class": "badge", title: "σ tied with a neighbour: only the span is defined", text: "deg"}));
      tr.append(first, el("td", {"class": "num", text: h.sigma[i]}),
        el("td", {"class": "num"}, el("span", {"class": "sw", style: "background:" + colour(h.fid[i])}), fmt(h.fid[i], 3)),
        el("td", {"class": "num", text: fmt(h.res[i], 3)}), el("td", {"class": "num", text: fmt(h.coh[i], 3)}), conceptCell(h.c[i]));
      if (h.m) tr.append(imagesCell(h.m[i]));
      t.append(tr);
    });
    return t;
  }

  function openHead(p, layer, head, s) {
    var d = document.getElementById(p + "-L" + layer + "-H" + head);
    if (!d) return;
    d.fill(); d.open = true;
    var row = document.getElementById(p + "-L" + layer + "-H" + head + "-V" + s);
    document.querySelectorAll("tr.hit").forEach(function (r) { r.classList.remove("hit"); });
    if (row) { row.classList.add("hit"); row.scrollIntoView({block: "center"}); } else d.scrollIntoView();
  }

  // QK circuits: for each head, its pairs (a_j, b_j) as "attends from <query concepts> to <key concepts>"
  function pairText(e) {
    if (!e) return el("span", {"class": "muted", text: "—"});
    var span = el("span", {"class": "side"}), any = false;
    for (var i = 0; i < e.c.length; i += 2) {
      if (!(e.c[i + 1] > 0)) continue;
      span.append(el("span", {"class": "concept"}, C[e.c[i]] + " ", el("small", {text: fmt(e.c[i + 1], 2)})));
      any = true;
    }
    if (!any) span.append(el("span", {"class": "muted", text: "(no concept)"}));
    return span;
  }
  function qkLayers(s, p, layers, hn, heading) {
    if (heading) s.append(heading);
    s.append(el("p", {"class": "muted", text: "Each pair j of a head's QK map B_h = Wq_hᵀ·Wk_h = Σ σ_j a_j b_jᵀ: a token whose residual reads like the query side a_j "
        + "attends to tokens that offer the key side b_j. Pairs by σ rank; fidelity of the query / key explanation."}));
    layers.forEach(function (layer) {
      var ls = el("div", {"class": "layer", id: p + "-L" + layer.layer}, el(hn, {text: "Layer " + layer.layer}));
      layer.heads.forEach(function (h) {
        var d = el("details", {"class": "head qkhead", id: p + "-L" + layer.layer + "-H" + h.head},
          el("summary", {}, el("b", {text: "head " + h.head}), " · " + h.sv.length + " pairs · ",
            el("span", {"class": "muted", text: "sv " + h.sv[0] + ": attends from " + (h.q[0] ? conceptText(h.q[0].c, 2) : "—") + " to " + (h.k[0] ? conceptText(h.k[0].c, 2) : "—")})));
        var filled = false;
        d.fill = function () {
          if (filled) return;
          filled = true;
          var t = el("table", {"class": "qk"}, el("tr", {}, el("th", {text: "sv"}), el("th", {text: "σ"}), el("th", {text: "attends from (query) … to (key)"}),
            el("th", {text: "fidelity q / k"})));
          h.sv.forEach(function (sv_, i) {
            var first = el("td", {"class": "num", text: sv_});
            if (h.deg && h.deg.indexOf(sv_) >= 0) first.append(el("span", {"class": "badge", title: "σ tied with a neighbour: only the span is defined", text: "deg"}));
            t.append(el("tr", {"class": "qkpair", id: p + "-L" + layer.layer + "-H" + h.head + "-V" + sv_}, first, el("td", {"class": "num", text: h.sigma[i]}),
              el("td", {"class": "pair"}, "attends from ", el("span", {"class": "q"}, pairText(h.q[i])), " to ", el("span", {"class": "k"}, pairText(h.k[i]))),
              el("td", {"class": "num", text: fmt(h.q[i] && h.q[i].fid, 3) + " / " + fmt(h.k[i] && h.k[i].fid, 3)})));
          });
          d.append(t);
        };
        if (D.eager) d.fill(); else d.addEventListener("toggle", d.fill);
        ls.append(d);
      });
      s.append(ls);
    });
  }

  // MLP neurons: per layer (and side), the largest σ first, with how many more there are
  function mlpLayers(s, p, layers, hn, heading) {
    if (heading) s.append(heading);
    s.append(el("p", {"class": "muted", text: "Per layer, the neurons with the largest σ (the norm of the neuron's centered write vector, or read vector for side left) "
        + "and their concepts."}));
    layers.forEach(function (L) {
      var id = p + "-L" + L.layer + (L.side === "right" ? "" : "-" + L.side);
      var ls = el("div", {"class": "layer mlp-layer", id: id}, el(hn, {text: "Layer " + L.layer + (L.side === "right" ? "" : " · " + L.side + " (read directions)")}));
      ls.append(el("p", {"class": "muted", text: "top " + L.sv.length + " of " + L.total + " neurons by σ"}));
      var t = el("table", {"class": "neurons"}), hr = el("tr", {});
      ["neuron", "σ", "fidelity", "residual", "coherence", "concepts (weight)"].concat(L.m ? ["top images"] : []).forEach(function (x) { hr.append(el("th", {text: x})); });
      t.append(hr);
      L.sv.forEach(function (n, i) {
        var tr = el("tr", {"class": "neuron", id: id + "-N" + n}, el("td", {"class": "num", text: n}), el("td", {"class": "num", text: L.sigma[i]}),
          el("td", {"class": "num"}, el("span", {"class": "sw", style: "background:" + colour(L.fid[i])}), fmt(L.fid[i], 3)),
          el("td", {"class": "num", text: fmt(L.res[i], 3)}), el("td", {"class": "num", text: fmt(L.coh[i], 3)}), conceptCell(L.c[i]));
        if (L.m) tr.append(imagesCell(L.m[i]));
        t.append(tr);
      });
      ls.append(t);
      if (L.total > L.sv.length) ls.append(el("p", {"class": "muted more", text: "… and " + (L.total - L.sv.length) + " more neurons with smaller σ"}));
      s.append(ls);
    });
  }

  // ---------------------------------------------------------------- per image: what makes up its embedding (SPEC §11)
  // Each image's contribution rows (top vectors by signed share, then the other kinds summed) as signed bars on one
  // axis per image (zero line at data-zero, negative shares to its left), with the vectors' concepts and the image's
  // own explanation.
  var KINDS = {vo_rest: "all other VO vectors", mlp_rest: "all other MLP neurons", vo_bias: "value biases (through the output maps)",
    out_bias: "blocks' output biases", mlp: "MLP outputs", embed: "embedding stage (CLS after LN_pre)", ln_post_bias: "LN_post bias"};
  function headSource(layer, head) {
    for (var i = 0; i < D.explanations.length; i++) {
      var L = D.explanations[i].layers.filter(function (l) { return l.layer === layer; })[0];
      if (L && L.heads.some(function (h) { return h.head === head; })) return "s" + i;
    }
    return null;
  }
  function vectorLabel(r) {
    if (r.rank == null) {
      return el("span", {}, el("b", {text: r.k}), r.layer != null ? " · layer " + r.layer : null, el("span", {"class": "muted", text: " " + (KINDS[r.k] || "")}));
    }
    var text = r.k === "vo" ? "L" + r.layer + " h" + r.head + " sv " + r.sv
      : r.k === "mlp" ? "L" + r.layer + " neuron " + r.sv : r.k + " L" + r.layer + (r.head != null ? " h" + r.head : "") + " sv " + r.sv;
    var p = r.k === "vo" ? headSource(r.layer, r.head) : null;
    if (!p) return el("span", {"class": "vec-name", text: text});
    var a = el("a", {"class": "vec-name", href: "#" + p + "-L" + r.layer + "-H" + r.head + "-V" + r.sv, text: text});
    a.addEventListener("click", function (e) { e.preventDefault(); openHead(p, r.layer, r.head, r.sv); });
    return a;
  }
  function shareBar(share, lo, hi) {
    var W = 180, H = 12, span = hi - lo || 1, x0 = (0 - lo) / span * W, w = Math.abs(share || 0) / span * W;
    var svg = sv("svg", {"class": "share-chart", width: W, height: H, "data-zero": x0.toFixed(2)});
    svg.append(sv("line", {x1: x0, x2: x0, y1: 0, y2: H, stroke: "#98a2b3"}));
    var neg = share < 0;
    svg.append(sv("rect", {x: (neg ? x0 - w : x0).toFixed(2), y: 2, width: Math.max(0.5, w).toFixed(2), height: H - 4,
      "class": "share-bar " + (neg ? "neg" : "pos"), "data-share": share}));
    return svg;
  }
  if (D.per_image) {
    var pi = section("per-image", "Images");
    var cards = D.per_image.images;
    pi.append(el("p", {"class": "muted", text: "What each image's embedding is made of (explain-images, SPEC §11): its top singular vectors by signed share "
        + "share_k = ⟨e_k, e⟩/‖e‖², then the rest of each kind summed; an image's shares add to 1. Bars: share on one axis per image, negative to the left of the line."}));
    pi.append(el("p", {"class": "muted", id: "images-count", text: cards.length + " of " + D.per_image.total + " image(s) shown"
        + (D.per_image.total > cards.length ? " (the first by id; " + (D.per_image.total - cards.length) + " more not shown)" : "")}));
    cards.forEach(function (c, n) {
      var im = IM[c.image];
      var card = el("div", {"class": "image-card", id: "img-" + n, "data-image": im.id});
      var thumb = im.src ? el("img", {"class": "thumb image-thumb", src: im.src, alt: im.id, title: im.id}) : el("span", {"class": "nothumb", title: "not readable", text: im.id});
      var head = el("div", {"class": "image-head"}, thumb);
      var about = el("div", {}, el("b", {"class": "image-id", text: im.id}), c.model ? el("span", {"class": "muted", text: " · " + c.model}) : null);
      if (c.e) {
        var ex = el("div", {"class": "image-expl"}, el("span", {"class": "muted", text: "its own explanation" + (c.e.method ? " (" + c.e.method + ")" : "")
          + ", fidelity " + fmt(c.e.fid, 3) + (c.e.coh != null ? ", coherence " + fmt(c.e.coh, 3) : "") + ": "}));
        for (var i = 0; i < c.e.c.length; i += 2) ex.append(el("span", {"class": "concept"}, C[c.e.c[i]] + " ", el("small", {text: fmt(c.e.c[i + 1], 2)})));
        about.append(ex);
      }
      head.append(about);
      card.append(head);
      if (c.rows) {
        var lo = 0, hi = 0;
        c.rows.forEach(function (r) { if (r.share != null) { lo = Math.min(lo, r.share); hi = Math.max(hi, r.share); } });
        var t = el("table", {"class": "shares"}, el("tr", {}, el("th", {text: "rank"}), el("th", {text: "vector"}), el("th", {text: "score"}),
          el("th", {text: "share"}), el("th", {text: "share of the embedding"}), el("th", {text: "concepts (weight)"})));
        c.rows.forEach(function (r) {
          var concepts = r.c ? conceptCell(r.c) : el("td", {"class": "muted", text: r.rank != null ? "—" : ""});
          if (r.from) concepts.setAttribute("title", "from explanations/");
          t.append(el("tr", {"class": "share-row" + (r.rank == null ? " summed" : ""), "data-component": r.k},
            el("td", {"class": "num", text: r.rank == null ? "" : r.rank}), el("td", {}, vectorLabel(r)), el("td", {"class": "num", text: fmt(r.score, 3)}),
            el("td", {"class": "num", text: r.share == null ? "—" : (r.share * 100).toFixed(2) + " %"}), el("td", {}, shareBar(r.share, lo, hi)), concepts));
        });
        t.append(el("tr", {"class": "share-sum"}, el("td", {}), el("td", {text: "sum"}), el("td", {}), el("td", {"class": "num", text: (c.sum * 100).toFixed(2) + " %"}),
          el("td", {}), el("td", {})));
        card.append(t);
      }
      pi.append(card);
    });
  }

  // ---------------------------------------------------------------- edits: σ before and after, per edited head
  function spectrum(layer, head) {
    for (var i = 0; i < D.explanations.length; i++) {
      var L = D.explanations[i].layers.filter(function (l) { return l.layer === layer; })[0];
      var H = L && L.heads.filter(function (h) { return h.head === head; })[0];
      if (H) return H;
    }
    return null;
  }
  if (D.edits.length) {
    var es = section("edits", "Edits");
    es.append(el("p", {"class": "muted", text: D.edits.length + " edited vector(s). Bars: σ of each vector of the head before (blue) and after the edit, |α|·σ (orange)."}));
    var byHead = {};
    D.edits.forEach(function (e) { var k = e.run + "|" + e.layer + "|" + e.head; (byHead[k] = byHead[k] || []).push(e); });
    var grid = el("div", {"class": "layer-grid"});
    Object.keys(byHead).forEach(function (k) {
      var list = byHead[k], e0 = list[0], H = spectrum(e0.layer, e0.head);
      var alpha = {}; list.forEach(function (e) { alpha[e.sv] = e; });
      var svs = H ? H.sv.slice() : list.map(function (e) { return e.sv; }).sort(function (a, b) { return a - b; });
      var sig = function (s) { if (alpha[s]) return alpha[s].sigma; var i = H.sv.indexOf(s); return H.sigma[i]; };
      var maxS = 0; svs.forEach(function (s) { maxS = Math.max(maxS, sig(s), alpha[s] ? Math.abs(alpha[s].alpha) * alpha[s].sigma : 0); });
      if (!(maxS > 0)) maxS = 1;
      var bw = Math.max(3, Math.min(12, Math.floor(400 / svs.length))), hgt = 90;
      var svg = sv("svg", {"class": "chart edit-chart", width: svs.length * bw + 10, height: hgt + 16, role: "img", "aria-label": "edit of layer " + e0.layer + " head " + e0.head});
      svs.forEach(function (s, i) {
        var before = sig(s) / maxS * hgt;
        svg.append(sv("rect", {x: 5 + i * bw, y: hgt - before, width: Math.max(1, bw / 2 - 1), height: before, fill: "#3b528b", "class": "before"}));
        var a = alpha[s] ? Math.abs(alpha[s].alpha) : 1, after = a * sig(s) / maxS * hgt;
        var bar = sv("rect", {x: 5 + i * bw + bw / 2, y: hgt - after, width: Math.max(1, bw / 2 - 1), height: after, fill: alpha[s] ? "#ef8a17" : "#9aa7c7", "class": "after"});
        if (alpha[s]) bar.append(sv("title", {}, "sv " + s + ": α " + alpha[s].alpha + ", σ " + fmt(alpha[s].sigma, 3) + " → " + fmt(a * alpha[s].sigma, 3)));
        svg.append(bar);
      });
      svg.append(sv("text", {x: 5, y: hgt + 12}, "sv 0 … " + svs[svs.length - 1]));
      grid.append(el("figure", {}, svg, el("figcaption", {text: "layer " + e0.layer + " head " + e0.head + (D.edits.some(function (e) { return e.run !== e0.run; }) ? " (" + e0.run + ")" : "")})));
    });
    es.append(grid);
    var et = el("table", {"class": "edits"}, el("tr", {}, el("th", {text: "layer"}), el("th", {text: "head"}), el("th", {text: "sv"}), el("th", {text: "α"}),
      el("th", {text: "σ"}), el("th", {text: "selection"}), el("th", {text: "relevance"}), el("th", {text: "concepts"})));
    D.edits.forEach(function (e) {
      et.append(el("tr", {"class": "edit"}, el("td", {"class": "num", text: e.layer}), el("td", {"class": "num", text: e.head}), el("td", {"class": "num", text: e.sv}),
        el("td", {"class": "num", text: e.alpha}), el("td", {"class": "num", text: fmt(e.sigma, 3)}), el("td", {text: e.selection}),
        el("td", {"class": "num", text: fmt(e.relevance, 3)}), el("td", {text: (e.concepts || []).map(function (c) { return c.concept + " " + fmt(c.weight, 2); }).join(", ")})));
    });
    es.append(et);
  }

  // ---------------------------------------------------------------- zero-shot and retrieval: runs side by side
  function compare(id, title, rows, keyOf, runOf, valueOf, note) {
    var s = section(id, title);
    if (note) s.append(el("p", {"class": "muted", text: note}));
    var runs = [], keys = [], cell = {};
    rows.forEach(function (r) {
      var run = runOf(r), key = keyOf(r);
      if (runs.indexOf(run) < 0) runs.push(run);
      if (keys.indexOf(key) < 0) keys.push(key);
      cell[key + "\u0000" + run] = r;
    });
    var t = el("table", {"class": id}), hr = el("tr", {}, el("th", {text: ""}));
    runs.forEach(function (r) { hr.append(el("th", {text: r})); });
    t.append(hr);
    keys.forEach(function (k) {
      var tr = el("tr", {"class": "cmp"}, el("td", {text: k}));
      runs.forEach(function (run, i) {
        var r = cell[k + "\u0000" + run], v = r ? valueOf(r) : null;
        tr.append(el("td", {"class": "num"}, v == null ? "—" : el("span", {"class": "hbar" + (i > 0 ? " after" : ""), style: "width:" + Math.round(Math.max(0, Math.min(1, v)) * 120) + "px"}),
          v == null ? null : fmt(v, 4)));
      });
      t.append(tr);
    });
    s.append(t);
  }
  if (D.zeroshot.length) {
    compare("zeroshot", "Zero-shot accuracy", D.zeroshot,
      function (r) { return r.scope === "all" ? "all images" : r.scope + " " + r.name; },
      function (r) { return r.run + (D.zeroshot.some(function (x) { return x.model !== r.model && x.run === r.run; }) ? " · " + r.model : ""); },
      function (r) { return r.accuracy; },
      "Accuracy per run (one column per zeroshot/ folder: e.g. the base and the edited checkpoint). Worst group: "
        + D.zeroshot.filter(function (r) { return r.scope === "all" && r.worst_group_accuracy != null; }).map(function (r) { return r.run + " " + fmt(r.worst_group_accuracy, 4); }).join(", "));
  }
  if (D.retrieval.length) {
    compare("retrieval", "Retrieval", D.retrieval,
      function (r) { return r.metric + " @" + r.k; },
      function (r) { return r.run + " · " + r.checkpoint; },
      function (r) { return r.value; }, "recall@k on safe pairs and the unsafe-retrieval rate, per checkpoint");
  }

  // ---------------------------------------------------------------- fine-tuning diff: per head
  if (D.diff_heads.length) {
    var ds = section("diff", "Fine-tuning diff");
    ds.append(el("p", {"class": "muted", text: "Per head: relative change ‖M_ft − M_b‖/‖M_b‖ (cells, scaled to the largest), share of the fine-tuned map in the base subspaces (in_basis), pure reweighting (diagonal), principal angles between write subspaces, and the reweighting factors C_jj/σ_b,j of each vector."}));
    var maxRel = 0, layers = [], heads = [];
    D.diff_heads.forEach(function (r) { maxRel = Math.max(maxRel, r.rel_change); if (layers.indexOf(r.layer) < 0) layers.push(r.layer); if (heads.indexOf(r.head) < 0) heads.push(r.head); });
    layers.sort(function (a, b) { return a - b; }); heads.sort(function (a, b) { return a - b; });
    var cw = 22, ch = 16, g = sv("svg", {"class": "heat diff-heat", width: 40 + heads.length * cw, height: 16 + layers.length * ch, role: "img", "aria-label": "relative change per head"});
    heads.forEach(function (h, j) { g.append(sv("text", {x: 40 + j * cw, y: 11}, "h" + h)); });
    layers.forEach(function (l, i) { g.append(sv("text", {x: 0, y: 16 + i * ch + 11}, "L" + l)); });
    D.diff_heads.forEach(function (r) {
      var rect = sv("rect", {x: 40 + heads.indexOf(r.head) * cw, y: 16 + layers.indexOf(r.layer) * ch, width: cw - 2, height: ch - 2,
        fill: colour(maxRel > 0 ? r.rel_change / maxRel : 0), "class": "dcell"});
      rect.append(sv("title", {}, "layer " + r.layer + " head " + r.head + ": change " + fmt(r.rel_change, 4) + ", in_basis " + fmt(r.in_basis, 3) + ", diagonal " + fmt(r.diagonal, 3)));
      g.append(rect);
    });
    ds.append(legend("relative change", "0", fmt(maxRel, 3)), g);
    var vecs = {};
    D.diff_vectors.forEach(function (v) { var k = v.layer + "/" + v.head; (vecs[k] = vecs[k] || []).push(v); });
    var dt = el("table", {"class": "diff"}, el("tr", {}, el("th", {text: "layer"}), el("th", {text: "head"}), el("th", {text: "change"}), el("th", {text: "in_basis"}),
      el("th", {text: "diagonal"}), el("th", {text: "principal angles (rad)"}), el("th", {text: "reweighting C_jj/σ_b,j"}), el("th", {text: "concepts gained / lost"})));
    D.diff_heads.slice().sort(function (a, b) { return b.rel_change - a.rel_change || a.layer - b.layer || a.head - b.head; }).forEach(function (r) {
      var ang = r.principal_angles || [], w = 120, h = 30, pts = ang.map(function (a, i) { return (ang.length > 1 ? i * w / (ang.length - 1) : 0).toFixed(1) + "," + (h - a / (Math.PI / 2) * h).toFixed(1); });
      var spark = sv("svg", {"class": "chart angles", width: w, height: h}); spark.append(sv("polyline", {points: pts.join(" "), fill: "none", stroke: "#3b528b"}));
      var vs = (vecs[r.layer + "/" + r.head] || []).sort(function (a, b) { return a.sv - b.sv; });
      var rw = sv("svg", {"class": "chart reweight", width: Math.max(20, vs.length * 3), height: h});
      rw.append(sv("line", {x1: 0, x2: vs.length * 3, y1: h / 2, y2: h / 2, stroke: "#999"}));
      vs.forEach(function (v, i) {
        var y = Math.max(-1, Math.min(1, (v.reweight == null ? 1 : v.reweight) - 1)) * h / 2;
        rw.append(sv("rect", {x: i * 3, y: y > 0 ? h / 2 - y : h / 2, width: 2, height: Math.max(0.5, Math.abs(y)), fill: y > 0 ? "#ef8a17" : "#3b528b"}));
      });
      var changed = vs.filter(function (v) { return (v.gained && v.gained.length) || (v.lost && v.lost.length); }).slice(0, 3)
        .map(function (v) { return "sv " + v.sv + ": +" + (v.gained || []).join(", +") + " −" + (v.lost || []).join(", −"); }).join("; ");
      dt.append(el("tr", {"class": "dhead"}, el("td", {"class": "num", text: r.layer}), el("td", {"class": "num", text: r.head}), el("td", {"class": "num", text: fmt(r.rel_change, 4)}),
        el("td", {"class": "num", text: fmt(r.in_basis, 3)}), el("td", {"class": "num", text: fmt(r.diagonal, 3)}), el("td", {}, spark), el("td", {}, rw), el("td", {text: changed})));
    });
    ds.append(dt);
  }
  // ---------------------------------------------------------------- sweep: the fidelity/coherence trade-off (SPEC §13, the paper's Figure 3)
  var SERIES = ["#3b528b", "#ef8a17", "#21918c", "#c4452f", "#5ec962", "#7b3294", "#8c6d31", "#444444"];
  function niceStep(span) {
    var raw = span / 5, mag = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  }
  // [lo, hi, step]: the values' range widened to whole ticks
  function axisRange(values) {
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    if (!(hi > lo)) { lo -= 0.05; hi += 0.05; }
    var step = niceStep(hi - lo);
    return [Math.floor(lo / step + 1e-9) * step, Math.ceil(hi / step - 1e-9) * step, step];
  }
  function decimals(step) { return Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9))); }
  // One line per series (a method, or comp at one λ), its points ordered by K and labelled with it.
  function tradeOff(series, xKey, xLabel, yKey, yLabel, id) {
    var pts = [];
    series.forEach(function (se) { se.rows.forEach(function (r) { if (r[xKey] != null && r[yKey] != null) pts.push(r); }); });
    var W = 640, H = 380, L = 64, R = 150, T = 16, B = 48, pw = W - L - R, ph = H - T - B;
    var xr = axisRange(pts.map(function (r) { return r[xKey]; })), yr = axisRange(pts.map(function (r) { return r[yKey]; }));
    var X = function (v) { return L + (v - xr[0]) / (xr[1] - xr[0]) * pw; }, Y = function (v) { return T + ph - (v - yr[0]) / (yr[1] - yr[0]) * ph; };
    var svg = sv("svg", {"class": "chart sweep-plot", id: id, width: W, height: H, role: "img", "aria-label": yLabel + " against " + xLabel + " per method",
      "data-x": xKey, "data-y": yKey, "data-x-min": xr[0], "data-x-max": xr[1], "data-y-min": yr[0], "data-y-max": yr[1],
      "data-plot-left": L, "data-plot-top": T, "data-plot-width": pw, "data-plot-height": ph});
    svg.append(sv("rect", {x: L, y: T, width: pw, height: ph, "class": "plot-area"}));
    var n, v, dx = decimals(xr[2]), dy = decimals(yr[2]);
    for (n = 0; (v = xr[0] + n * xr[2]) <= xr[1] + xr[2] * 1e-6; n++) {
      svg.append(sv("line", {x1: X(v), x2: X(v), y1: T, y2: T + ph, "class": "grid"}));
      svg.append(sv("line", {x1: X(v), x2: X(v), y1: T + ph, y2: T + ph + 5, "class": "tick"}));
      svg.append(sv("text", {x: X(v), y: T + ph + 17, "text-anchor": "middle", "class": "tick-x", "data-value": v}, v.toFixed(dx)));
    }
    for (n = 0; (v = yr[0] + n * yr[2]) <= yr[1] + yr[2] * 1e-6; n++) {
      svg.append(sv("line", {x1: L, x2: L + pw, y1: Y(v), y2: Y(v), "class": "grid"}));
      svg.append(sv("line", {x1: L - 5, x2: L, y1: Y(v), y2: Y(v), "class": "tick"}));
      svg.append(sv("text", {x: L - 8, y: Y(v) + 3, "text-anchor": "end", "class": "tick-y", "data-value": v}, v.toFixed(dy)));
    }
    svg.append(sv("line", {x1: L, x2: L + pw, y1: T + ph, y2: T + ph, "class": "axis"}));
    svg.append(sv("line", {x1: L, x2: L, y1: T, y2: T + ph, "class": "axis"}));
    svg.append(sv("text", {x: L + pw / 2, y: H - 8, "text-anchor": "middle", "class": "axis-label x-label"}, xLabel));
    svg.append(sv("text", {x: 14, y: T + ph / 2, "text-anchor": "middle", transform: "rotate(-90 14 " + (T + ph / 2) + ")", "class": "axis-label y-label"}, yLabel));
    var legend = sv("g", {"class": "sweep-legend"});
    series.forEach(function (se, i) {
      var c = SERIES[i % SERIES.length], rows = se.rows.filter(function (r) { return r[xKey] != null && r[yKey] != null; });
      var g = sv("g", {"class": "sweep-series", "data-series": se.label, "data-method": se.method, "data-lambda": se.lambda});
      g.append(sv("polyline", {"class": "sweep-line", points: rows.map(function (r) { return X(r[xKey]) + "," + Y(r[yKey]); }).join(" "), fill: "none", stroke: c}));
      rows.forEach(function (r) {
        var p = sv("circle", {"class": "sweep-point", cx: X(r[xKey]), cy: Y(r[yKey]), r: 3.5, fill: c, "data-method": r.method, "data-k": r.k, "data-lambda": r.lambda});
        p.append(sv("title", {}, se.label + ", K " + r.k + ": " + yLabel + " " + fmt(r[yKey], 4) + ", " + xLabel + " " + fmt(r[xKey], 4)));
        g.append(p);
        g.append(sv("text", {x: X(r[xKey]) + 5, y: Y(r[yKey]) - 5, "class": "sweep-k", "data-k": r.k}, "" + r.k));
      });
      svg.append(g);
      var ly = T + 8 + i * 18;
      legend.append(sv("line", {x1: L + pw + 14, x2: L + pw + 34, y1: ly, y2: ly, stroke: c, "class": "legend-line"}));
      legend.append(sv("circle", {cx: L + pw + 24, cy: ly, r: 3.5, fill: c}));
      legend.append(sv("text", {x: L + pw + 40, y: ly + 4, "class": "legend-label", "data-series": se.label}, se.label));
    });
    svg.append(legend);
    return svg;
  }
  (D.sweep || []).forEach(function (src, si) {
    var s = section("sweep-" + si, "Trade-off sweep" + (D.sweep.length > 1 ? ": " + src.name : ""));
    var byLabel = {}, series = [];
    var comps = {};
    src.rows.forEach(function (r) { if (r.method === "comp") comps[r.lambda] = true; });
    var manyLambdas = Object.keys(comps).length > 1;
    src.rows.forEach(function (r) {
      var label = r.method === "comp" && (manyLambdas || r.lambda !== 0) ? "comp λ=" + r.lambda : r.method;
      if (!byLabel[label]) { byLabel[label] = {label: label, method: r.method, lambda: r.lambda, rows: []}; series.push(byLabel[label]); }
      byLabel[label].rows.push(r);
    });
    series.forEach(function (se) { se.rows.sort(function (a, b) { return a.k - b.k; }); });
    var judged = src.rows.some(function (r) { return r.judge != null; });
    s.append(el("p", {"class": "muted", text: (src.model ? "model " + src.model.join(", ") + " · " : "") + (src.rows.length ? src.rows[0].vectors : 0)
        + " vectors coded with " + src.rows.length + " configurations. Mean fidelity (cosine of each target and its reconstruction in the joint space) against "
        + "mean coherence (pairwise cosine of the chosen concepts): one line per method, its points ordered by K (labelled); up and right is better on both."}));
    var figs = el("div", {"class": "layer-grid"});
    figs.append(el("figure", {}, tradeOff(series, "coh", "coherence", "fid", "fidelity", "sweep-" + si + "-coherence"),
      el("figcaption", {text: "fidelity against coherence"})));
    if (judged) {
      figs.append(el("figure", {}, tradeOff(series, "judge", "judge score (1–5)", "fid", "fidelity", "sweep-" + si + "-judge"),
        el("figcaption", {text: "fidelity against the judge's interpretability score"})));
    }
    s.append(figs);
    var t = el("table", {"class": "sweep"}, el("tr", {}, el("th", {text: "method"}), el("th", {text: "λ"}), el("th", {text: "K"}), el("th", {text: "vectors"}),
      el("th", {text: "fidelity"}), el("th", {text: "fidelity_residual"}), el("th", {text: "coherence"}), el("th", {text: "judge score"})));
    series.forEach(function (se) {
      se.rows.forEach(function (r) {
        t.append(el("tr", {"class": "sweep-row"}, el("td", {text: r.method}), el("td", {"class": "num", text: r.lambda}), el("td", {"class": "num", text: r.k}),
          el("td", {"class": "num", text: r.vectors}), el("td", {"class": "num", text: fmt(r.fid, 4)}), el("td", {"class": "num", text: fmt(r.res, 4)}),
          el("td", {"class": "num", text: fmt(r.coh, 4)}), el("td", {"class": "num", text: fmt(r.judge, 2)})));
      });
    });
    s.append(t);
  });
  // a link to #s0-L23-H8 or #s0-L23-H8-V0 opens that head (and marks the vector); likewise #s0-qk-…, #s0-text-…, #s0-text-qk-…
  var target = /^#(s\d+(?:-text)?(?:-qk)?)-L(\d+)-H(\d+)(?:-V(\d+))?$/.exec(location.hash);
  if (target) openHead(target[1], target[2], target[3], target[4]);
  document.body.setAttribute("data-rendered", "true");
})();
