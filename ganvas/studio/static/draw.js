// The Draw tab's paper: strokes on a transparent canvas (pen or eraser), undo/redo, and the drawing as a PNG.
// The canvas keeps its own pixel size (256×256); the page shows it larger. Strokes are kept as point lists,
// so undo and redo redraw them; `onStroke` is called when a stroke ends (the studio renders the drawing then).

export class Sketchpad {
  constructor(canvas, onStroke) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.onStroke = onStroke;
    this.strokes = [];        // done strokes, oldest first: {points: [[x, y]…], width, erase}
    this.undone = [];         // strokes undone, most recent last (redo takes them back)
    this.current = null;
    this.width = 4;
    this.erase = false;
    this.listeners = new Set();
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", (e) => this.up(e));
    canvas.addEventListener("pointercancel", (e) => this.up(e));
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * this.canvas.width) / r.width, ((e.clientY - r.top) * this.canvas.height) / r.height];
  }

  down(e) {
    if (e.button !== 0) return;
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this.current = { points: [this.point(e)], width: this.width, erase: this.erase };
    this.paint(this.current);
  }

  move(e) {
    if (!this.current) return;
    const pts = this.current.points;
    const from = pts.length - 1;
    // the browser may merge moves that came faster than it paints; the merged ones keep the stroke's shape
    const events = e.getCoalescedEvents?.() || [];
    for (const ev of events.length ? events : [e]) pts.push(this.point(ev));
    this.paint({ ...this.current, points: pts.slice(from) });
  }

  up(e) {
    if (!this.current) return;
    if (e.type === "pointerup") this.current.points.push(this.point(e));
    this.strokes.push(this.current);
    this.current = null;
    this.undone = [];
    this.redraw();
    this.changed(true);
  }

  paint(stroke) {
    const c = this.ctx;
    c.save();
    c.globalCompositeOperation = stroke.erase ? "destination-out" : "source-over";
    c.strokeStyle = "#000";
    c.fillStyle = "#000";
    c.lineWidth = stroke.width;
    c.lineCap = c.lineJoin = "round";
    const p = stroke.points;
    if (p.length === 1) {
      c.beginPath();
      c.arc(p[0][0], p[0][1], stroke.width / 2, 0, 2 * Math.PI);
      c.fill();
    } else {
      c.beginPath();
      c.moveTo(p[0][0], p[0][1]);
      for (const [x, y] of p.slice(1)) c.lineTo(x, y);
      c.stroke();
    }
    c.restore();
  }

  redraw() {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    for (const s of this.strokes) this.paint(s);
  }

  undo() { if (this.strokes.length) { this.undone.push(this.strokes.pop()); this.redraw(); this.changed(true); } }
  redo() { if (this.undone.length) { this.strokes.push(this.undone.pop()); this.redraw(); this.changed(true); } }
  clear() {
    if (!this.strokes.length) return;
    this.undone = [];
    this.strokes = [];
    this.redraw();
    this.changed(false);
  }

  get empty() { return !this.strokes.some((s) => !s.erase); }

  changed(render) {
    for (const f of this.listeners) f();
    if (render) this.onStroke();
  }

  // The drawing alone (no traced picture) on white paper, as a PNG blob.
  png() {
    const out = document.createElement("canvas");
    out.width = this.canvas.width;
    out.height = this.canvas.height;
    const c = out.getContext("2d");
    c.fillStyle = "#fff";
    c.fillRect(0, 0, out.width, out.height);
    c.drawImage(this.canvas, 0, 0);
    return new Promise((ok, no) => out.toBlob((b) => (b ? ok(b) : no(new Error("the drawing could not be encoded"))), "image/png"));
  }
}
