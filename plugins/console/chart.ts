import { escapeHtml } from '../core/html.js'

export interface ChartSeries { name: string, values: number[], format?: (value: number) => string }

const WIDTH = 480
const PANEL = 110
const TOP = 26
const BOTTOM = 18
const LEFT = 8

/**
 * Daily figures as an SVG drawn on the server: one panel per series (each on its own scale, so a day's 3 orders are
 * as readable as its 300 conversations), a bar per day, the largest value named. `title` is the chart's accessible name.
 */
export function barChart (title: string, days: string[], series: ChartSeries[]): string {
  const height = series.length * PANEL
  const slot = (WIDTH - LEFT * 2) / Math.max(1, days.length)
  const panels = series.map((line, index) => {
    const top = index * PANEL
    const max = Math.max(0, ...line.values)
    const scale = max === 0 ? 0 : (PANEL - TOP - BOTTOM) / max
    const bars = line.values.map((value, day) => {
      const barHeight = Math.max(value > 0 ? 1 : 0, value * scale)
      const x = LEFT + day * slot + slot * 0.15
      const y = top + PANEL - BOTTOM - barHeight
      return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${barHeight.toFixed(1)}">` +
        `<title>${escapeHtml(`${days[day]}: ${(line.format ?? String)(value)}`)}</title></rect>`
    }).join('')
    const label = `${line.name} (most in a day: ${(line.format ?? String)(max)})`
    return `<g class="series-${index}"><text x="${LEFT}" y="${top + 15}">${escapeHtml(label)}</text>` +
      `<line x1="${LEFT}" x2="${WIDTH - LEFT}" y1="${top + PANEL - BOTTOM}" y2="${top + PANEL - BOTTOM}"/>${bars}</g>`
  }).join('')
  const first = days[0] ?? ''
  const last = days.at(-1) ?? ''
  const axis = `<text x="${LEFT}" y="${height - 2}">${escapeHtml(first)}</text>` +
    `<text x="${WIDTH - LEFT}" y="${height - 2}" text-anchor="end">${escapeHtml(last)}</text>`
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height + 4}" role="img" aria-labelledby="chart-title">` +
    `<title id="chart-title">${escapeHtml(title)}</title>${panels}${axis}</svg>`
}
