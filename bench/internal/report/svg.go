package report

import (
	"bytes"
	"fmt"
	"text/template"
)

// Chart geometry, in SVG user units. Text positions are anchors only: labels
// end at labelEnd (text-anchor="end") and values start just past their bar,
// so no text width is ever computed here.
const (
	panelWidth  = 470
	labelEnd    = 112 // server names end here
	barStart    = 118
	barMax      = 250 // the longest bar; room for the value text after it
	barHeight   = 14
	barGap      = 5
	panelTop    = 26 // room for the panel title
	panelBottom = 12
	chartMargin = 12
	headerH     = 46
)

// palette gives each server a fixed colour by its display position.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

type svgBar struct {
	Label, Value, Color string
	Y, Width            float64
}

type svgPanel struct {
	X, Y, W, H float64
	Title      string
	Bars       []svgBar
	Empty      string // shown when no server has a figure
}

type svgChart struct {
	W, H   float64
	Title  string
	Sub    string
	Panels []svgPanel
}

var svgTemplate = template.Must(template.New("chart").Funcs(template.FuncMap{
	"x":      template.HTMLEscapeString, // text/template does not escape; XML needs it
	"half":   func(v float64) float64 { return v / 2 },
	"valueX": func(w float64) float64 { return barStart + w + 4 },
}).Parse(`<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="12" y="20" font-size="15" font-weight="bold">{{x .Title}}</text>
<text x="12" y="37" fill="#555555">{{x .Sub}}</text>
{{- range .Panels}}
<g transform="translate({{.X}},{{.Y}})">
<rect width="{{.W}}" height="{{.H}}" fill="#fafafa" stroke="#dddddd"/>
<text x="8" y="17" font-weight="bold">{{x .Title}}</text>
{{- if .Empty}}
<text x="{{half .W}}" y="{{half .H}}" text-anchor="middle" fill="#888888">{{x .Empty}}</text>
{{- end}}
{{- range .Bars}}
<text x="` + fmt.Sprint(labelEnd) + `" y="{{printf "%.1f" .Y}}" dy="11" text-anchor="end">{{x .Label}}</text>
<rect x="` + fmt.Sprint(barStart) + `" y="{{printf "%.1f" .Y}}" width="{{printf "%.1f" .Width}}" height="` + fmt.Sprint(barHeight) + `" fill="{{.Color}}"/>
<text x="{{printf "%.1f" (valueX .Width)}}" y="{{printf "%.1f" .Y}}" dy="11" fill="#333333">{{x .Value}}</text>
{{- end}}
</g>
{{- end}}
</svg>
`))

// bar is one figure to draw; v <= 0 draws nothing.
type bar struct {
	label string
	v     float64
	text  string
}

func (r *Report) panel(title string, x, y float64, bars []bar) svgPanel {
	p := svgPanel{X: x, Y: y, W: panelWidth, Title: title}
	var top float64
	for _, b := range bars {
		top = max(top, b.v)
	}
	row := 0
	for i, b := range bars {
		if b.v <= 0 && b.text == "" {
			continue
		}
		w := 0.0
		if top > 0 && b.v > 0 {
			w = max(1, b.v/top*barMax)
		}
		p.Bars = append(p.Bars, svgBar{
			Label: b.label, Value: b.text, Color: palette[i%len(palette)],
			Y: panelTop + float64(row)*(barHeight+barGap), Width: w,
		})
		row++
	}
	if row == 0 {
		p.Empty = "no figures"
		row = 1
	}
	p.H = panelTop + float64(row)*(barHeight+barGap) + panelBottom
	return p
}

// SVG draws the report as a grid of horizontal bar charts: for each load
// scenario, messages per second (left) and server CPU per message (right);
// for each idle scenario, RSS per connection.
func (r *Report) SVG() ([]byte, error) {
	c := svgChart{
		Title: "twist echo comparison, " + r.Date.Format("2006-01-02"),
		Sub:   "left: messages/s (longer is better) · right: server CPU µs per message and idle KiB per connection (shorter is better)",
	}
	y := float64(headerH)
	for _, sc := range r.Scenarios {
		var left, right []bar
		for _, s := range r.Servers {
			m, _ := r.get(s, sc.Name)
			if m.Err != "" {
				left = append(left, bar{label: s, text: "failed"})
				right = append(right, bar{label: s, text: "failed"})
				continue
			}
			if sc.Idle {
				left = append(left, bar{label: s, v: m.PerConnRSS / 1024, text: fmt.Sprintf("%.2f KiB", m.PerConnRSS/1024)})
				continue
			}
			left = append(left, bar{label: s, v: m.Rate, text: Thousands(m.Rate)})
			right = append(right, bar{label: s, v: micros(m.CPUPerMsg), text: CPU(m.CPUPerMsg) + " µs"})
		}
		if sc.Idle {
			p := r.panel(sc.Title+" — RSS per connection", chartMargin, y, left)
			c.Panels = append(c.Panels, p)
			y += p.H + chartMargin
			continue
		}
		lp := r.panel(sc.Title+" — msgs/s", chartMargin, y, left)
		rp := r.panel(sc.Title+" — CPU per msg", 2*chartMargin+panelWidth, y, right)
		h := max(lp.H, rp.H)
		lp.H, rp.H = h, h
		c.Panels = append(c.Panels, lp, rp)
		y += h + chartMargin
	}
	c.W = 3*chartMargin + 2*panelWidth
	c.H = y
	var buf bytes.Buffer
	if err := svgTemplate.Execute(&buf, c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
