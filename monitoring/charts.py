"""Server-side chart geometry: turn a per-minute series into SVG coordinates the template draws.

Only numbers and plain label text come out of here; the template escapes the labels like any text.
"""
WIDTH, HEIGHT = 900, 200
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 24
LINES = (("started", "Started"), ("finished", "Finished"), ("failed", "Failed"))


def minute_chart(series, *, label_every=15):
    """Lines for started, finished and failed per minute, y ticks, and x labels every `label_every` minutes."""
    count = len(series)
    peak = max([1] + [point[name] for point in series for name, _ in LINES])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, count - 1)

    def x(index):
        return round(LEFT + index * step, 1)

    def y(value):
        return round(TOP + plot_h - value * plot_h / peak, 1)

    # Started is dashed: with quick transactions it lies right on top of finished.
    lines = [{"name": name, "label": label, "total": sum(point[name] for point in series),
              "dash": "6 4" if name == "started" else "",
              "points": " ".join(f"{x(i)},{y(point[name])}" for i, point in enumerate(series))}
             for name, label in LINES]
    ticks = [{"y": y(value), "label": str(value)} for value in sorted({0, peak // 2, peak})]
    labels = [{"x": x(i), "label": point["minute"].strftime("%H:%M"), "anchor": "end" if i == count - 1 else "middle"}
              for i, point in enumerate(series) if (count - 1 - i) % label_every == 0]
    bars = [{"x": round(x(i) - step / 2, 1), "width": round(step, 1), "title": _title(point)}
            for i, point in enumerate(series)]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP,
            "bottom": TOP + plot_h, "lines": lines, "ticks": ticks, "labels": labels, "bars": bars,
            "peak": peak}


def _title(point):
    return (f"{point['minute']:%H:%M} UTC: {point['started']} started, {point['finished']} finished, "
            f"{point['failed']} failed")


# A fan-out's bar, left to right: what ended, then what runs, then what has not started.
FAN_OUT_PARTS = (("succeeded", "succeeded"), ("failed", "failed"), ("running", "running"),
                 ("not_started", "not yet started"))


def fan_out_bar(group, *, width=100):
    """The segments of a fan-out's progress bar ({"name", "label", "count", "x", "width"}, in SVG units of a bar
    `width` wide) from its ChildGroup; a segment with no children is left out."""
    total = max(group.total, 1)
    segments, x = [], 0.0
    for name, label in FAN_OUT_PARTS:
        count = getattr(group, name)
        if count:
            size = round(count * width / total, 2)
            segments.append({"name": name, "label": label, "count": count, "x": round(x, 2), "width": size})
            x += size
    return segments
