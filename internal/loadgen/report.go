package loadgen

import (
	"fmt"
	"html/template"
	"image/color"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// series is one line of a chart.
type series struct {
	Name   string
	Color  string
	Values []float64
}

// chartSVG draws series over seconds as an inline SVG, with the faults as
// shaded bands.
func chartSVG(title, unit string, ss []series, faults []FaultMark) template.HTML {
	const w, h, left, right, top, bottom = 900.0, 260.0, 60.0, 20.0, 30.0, 30.0
	n, top1 := 0, 1.0
	for _, s := range ss {
		n = max(n, len(s.Values))
		for _, v := range s.Values {
			top1 = max(top1, v)
		}
	}
	n = max(n, 2)
	x := func(i float64) float64 { return left + (w-left-right)*i/float64(n-1) }
	y := func(v float64) float64 { return h - bottom - (h-top-bottom)*v/top1 }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`, w, h)
	fmt.Fprintf(&b, `<text x="%.0f" y="18" font-size="14" font-weight="bold">%s</text>`, left, template.HTMLEscapeString(title))
	for _, f := range faults {
		end := f.End
		if end < 0 {
			end = time.Duration(n) * time.Second
		}
		x0, x1 := x(f.Start.Seconds()), x(max(end.Seconds(), f.Start.Seconds()+0.5))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="#f4c7c3" opacity="0.6"/>`, x0, top, x1-x0, h-top-bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" fill="#a50e0e">%s</text>`, x0+2, top+12, template.HTMLEscapeString(f.Name))
	}
	for i := 0; i <= 4; i++ {
		v := top1 * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="4" y="%.1f">%.0f %s</text>`,
			left, w-right, y(v), y(v), y(v)+4, v, unit)
	}
	for s := 0; s < n; s += max(n/10, 1) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f">%ds</text>`, x(float64(s))-6, h-10, s)
	}
	for k, s := range ss {
		var pts []string
		for i, v := range s.Values {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(float64(i)), y(v)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>`, s.Color, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text x="%.0f" y="18" fill="%s">%s</text>`, w-right-120*float64(len(ss)-k), s.Color, template.HTMLEscapeString(s.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped parts
}

// seriesOf turns the buckets into the chart series.
func seriesOf(bs []Bucket) (rps, p50, p99 []float64, errs map[string][]float64) {
	errs = map[string][]float64{}
	kinds := map[string]bool{}
	for _, b := range bs {
		for k := range b.Errors {
			kinds[k] = true
		}
	}
	for k := range kinds {
		errs[k] = make([]float64, len(bs))
	}
	for i, b := range bs {
		rps = append(rps, float64(b.Done))
		p50 = append(p50, float64(percentile(b.Latencies, 0.5).Milliseconds()))
		p99 = append(p99, float64(percentile(b.Latencies, 0.99).Milliseconds()))
		for k, n := range b.Errors {
			errs[k][i] = float64(n)
		}
	}
	return rps, p50, p99, errs
}

var palette = []string{"#d93025", "#f29900", "#9334e6", "#188038", "#12b5cb", "#e52592", "#5f6368", "#1a73e8"}

var reportTmpl = template.Must(template.New("r").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>inbound load: {{.V.Verdict}}</title>
<style>body{font-family:sans-serif;margin:24px;color:#202124}h1 .pass{color:#188038}h1 .fail{color:#d93025}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;font-size:13px}
code{font-size:12px}</style></head><body>
<h1>inbound load — <span class="{{.V.Verdict}}">{{.V.Verdict}}</span></h1>
<p>{{if .V.Scenario}}Scenario <b>{{.V.Scenario}}</b>, {{end}}{{.V.Duration}}, {{.V.Clients}} clients, {{.V.Replicas}} replica(s):
{{.V.Requests}} requests, {{.V.Unresolved}} unresolved, {{.V.Visitors}} visitors, {{.V.Merchants}} merchants.</p>
<h2>Checks</h2><table>{{range $k, $v := .V.Checks}}<tr><th>{{$k}}</th><td>{{$v}}</td></tr>{{end}}</table>
<h2>Acknowledged effects</h2><table>{{range $k, $v := .V.Effects}}<tr><th>{{$k}}</th><td>{{$v}}</td></tr>{{end}}</table>
<h2>Charts</h2>
{{.Throughput}}<br>{{.Latency}}<br>{{.Errors}}
<p><img src="throughput.png" alt="throughput and p99 (PNG)" width="600"></p>
<h2>Faults</h2>
{{if .V.Faults}}<table><tr><th>fault</th><th>start</th><th>end</th><th>recovered after</th><th>last caught request answered</th></tr>
{{range .V.Faults}}<tr><td>{{.Name}}</td><td>{{.Start}}</td><td>{{.End}}</td><td>{{if lt .Recovery 0}}never{{else}}{{.Recovery}}{{end}}</td><td>{{if lt .LastAnswer 0}}never{{else}}{{.LastAnswer}} after the end{{end}}</td></tr>{{end}}</table>
{{else}}<p>None.</p>{{end}}
<h2>Violations ({{len .All}})</h2>
{{if .All}}<table><tr><th>kind</th><th>detail</th></tr>{{range .All}}<tr><td>{{.Kind}}</td><td><code>{{.Detail}}</code></td></tr>{{end}}</table>{{else}}<p>None.</p>{{end}}
{{if .V.Answers}}<h2>Definitive non-2xx answers</h2><table>{{range $k, $v := .V.Answers}}<tr><td>{{$k}}</td><td>{{$v}}</td></tr>{{end}}</table>{{end}}
{{if .V.Notes}}<h2>Notes</h2><ul>{{range .V.Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
`))

// WriteReport writes DIR/report.html (inline SVG charts), DIR/throughput.png
// and DIR/verdict.json.
func WriteReport(dir string, v Verdict, bs []Bucket, all []Violation) error {
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // a report directory meant to be read and published
		return err
	}
	rps, p50, p99, errs := seriesOf(bs)
	var es []series
	for i, k := range slices.Sorted(maps.Keys(errs)) {
		es = append(es, series{Name: k, Color: palette[i%len(palette)], Values: errs[k]})
	}
	data := struct {
		V                           Verdict
		All                         []Violation
		Throughput, Latency, Errors template.HTML
	}{V: v, All: all,
		Throughput: chartSVG("Throughput (definitive answers per second)", "req/s", []series{{"req/s", "#1a73e8", rps}}, v.Faults),
		Latency:    chartSVG("Latency (request to definitive answer, retries included)", "ms", []series{{"p50", "#188038", p50}, {"p99", "#d93025", p99}}, v.Faults),
		Errors:     chartSVG("Errors per second (retried attempts, 4xx answers, unresolved)", "/s", es, v.Faults),
	}
	f, err := os.Create(filepath.Join(dir, "report.html")) //nolint:gosec // the report file in the directory the operator asked for
	if err != nil {
		return err
	}
	if err := reportTmpl.Execute(f, data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "verdict.json"), []byte(v.JSON()+"\n"), 0o644); err != nil { //nolint:gosec // the verdict is meant to be read by anyone (CI artefact)
		return err
	}
	return writePNG(filepath.Join(dir, "throughput.png"), rps, p99, v.Faults)
}

// writePNG renders the main chart with gonum/plot: throughput above, p99
// latency below, each fault's start as a dashed line in both.
func writePNG(path string, rps, p99 []float64, faults []FaultMark) error {
	if len(rps) < 2 {
		rps, p99 = append(rps, 0, 0), append(p99, 0, 0)
	}
	panel := func(title, ylabel string, vals []float64, c color.Color) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "seconds"
		p.Y.Label.Text = ylabel
		p.Y.Min = 0
		pts := make(plotter.XYs, len(vals))
		top := 1.0
		for i, v := range vals {
			pts[i].X, pts[i].Y = float64(i), v
			top = max(top, v)
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = c, vg.Points(1.5)
		p.Add(l)
		for _, f := range faults {
			m, err := plotter.NewLine(plotter.XYs{{X: f.Start.Seconds(), Y: 0}, {X: f.Start.Seconds(), Y: top}})
			if err != nil {
				return nil, err
			}
			m.Color = color.RGBA{R: 0xa5, G: 0x0e, B: 0x0e, A: 0xff}
			m.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(m)
		}
		return p, nil
	}
	top, err := panel("inbound load: definitive answers per second (dashed: fault starts)", "req/s", rps, color.RGBA{R: 0x1a, G: 0x73, B: 0xe8, A: 0xff})
	if err != nil {
		return err
	}
	bottom, err := panel("p99 latency, retries included", "ms", p99, color.RGBA{R: 0xd9, G: 0x30, B: 0x25, A: 0xff})
	if err != nil {
		return err
	}
	const w, h = 9 * vg.Inch, 6 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Millimeter, PadY: 3 * vg.Millimeter, PadTop: 2 * vg.Millimeter,
		PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 2 * vg.Millimeter}
	plots := [][]*plot.Plot{{top}, {bottom}}
	canvases := plot.Align(plots, tiles, dc)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	f, err := os.Create(path) //nolint:gosec // the chart file in the directory the operator asked for
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
