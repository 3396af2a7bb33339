"use strict";
// Small line charts on canvas: no library, redrawn only when data changed.

/** Okabe-Ito colours, in the order series and terms use them. */
const PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442"];
/** Seconds of history a chart shows. */
const CHART_WINDOW_S = 60;

class LineChart {
  /** series: [{name, color, dash?}] */
  constructor(canvas, series) {
    this.canvas = canvas;
    this.series = series;
    this.points = series.map(() => []); // [[t_seconds, value|null], ...]
    this.dirty = true;
  }

  /** Appends one sample per series at time `t` (seconds); null leaves a gap. */
  push(t, values) {
    values.forEach((value, i) => {
      const points = this.points[i];
      points.push([t, value]);
      while (points.length && points[0][0] < t - CHART_WINDOW_S) points.shift();
    });
    this.dirty = true;
  }

  draw(now) {
    if (!this.dirty) return;
    this.dirty = false;
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    let max = 0;
    for (const points of this.points) for (const [, v] of points) if (v !== null && v > max) max = v;
    max = niceCeiling(max);
    const left = 44, right = width - 6, top = 6, bottom = height - 18;
    const x = (t) => left + (right - left) * (1 - (now - t) / CHART_WINDOW_S);
    const y = (v) => bottom - (bottom - top) * (v / max);
    g.font = "14px system-ui, sans-serif";
    g.fillStyle = "#444";
    g.strokeStyle = "#ddd";
    g.lineWidth = 1;
    for (const fraction of [0, 0.5, 1]) {
      const value = max * fraction;
      g.beginPath(); g.moveTo(left, y(value)); g.lineTo(right, y(value)); g.stroke();
      g.fillText(formatNumber(value), 2, y(value) + 5);
    }
    g.fillText("-60 s", left, height - 2);
    g.fillText("now", right - 28, height - 2);
    this.series.forEach((series, i) => {
      g.strokeStyle = series.color;
      g.lineWidth = 2.5;
      g.setLineDash(series.dash || []);
      g.beginPath();
      let drawing = false;
      for (const [t, v] of this.points[i]) {
        if (v === null) { drawing = false; continue; }
        if (drawing) g.lineTo(x(t), y(v)); else g.moveTo(x(t), y(v));
        drawing = true;
      }
      g.stroke();
    });
    g.setLineDash([]);
    // Legend, with the latest value: the number matters more than the line.
    let legendX = left + 6;
    this.series.forEach((series, i) => {
      const last = this.points[i].length ? this.points[i][this.points[i].length - 1][1] : null;
      const label = `${series.name} ${last === null ? "–" : formatNumber(last)}`;
      g.fillStyle = series.color;
      g.fillRect(legendX, top + 2, 12, 12);
      g.fillStyle = "#111";
      g.fillText(label, legendX + 16, top + 13);
      legendX += g.measureText(label).width + 30;
    });
  }
}

function niceCeiling(value) {
  if (value <= 0) return 1;
  const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 5, 10]) if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

function formatNumber(value) {
  if (value >= 100) return Math.round(value).toString();
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(value === 0 ? 0 : 2);
}
