/** A horizontal bar chart as SVG text: no browser, no library. */
export function hotPathChart(result: {
  runs: { name: string; rps: number; p99: number; cpuMicrosPerRequest: number; redisCpuMicrosPerRequest: number }[]
  connections: number
}): string {
  const width = 900
  const rowHeight = 34
  const left = 250
  const top = 40
  const max = Math.max(...result.runs.map((r) => r.rps))
  const scale = (width - left - 340) / max
  const rows = result.runs.map((r, i) => {
    const y = top + i * rowHeight
    const w = Math.max(1, Math.round(r.rps * scale))
    return [
      `<text x="${left - 10}" y="${y + 17}" text-anchor="end">${escapeXml(r.name)}</text>`,
      `<rect x="${left}" y="${y + 4}" width="${w}" height="${rowHeight - 12}" fill="${i === 3 ? '#2b6cb0' : '#a0aec0'}"/>`,
      `<text x="${left + w + 6}" y="${y + 17}">${r.rps} req/s · p99 ${r.p99} ms · ${r.cpuMicrosPerRequest} µs + Redis ${r.redisCpuMicrosPerRequest} µs</text>`,
    ].join('')
  })
  const height = top + result.runs.length * rowHeight + 10
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="22" font-size="14" font-weight="bold">GET /tokens/:account/access, 1,000 accounts, ${result.connections} connections: throughput (higher is better)</text>
${rows.join('\n')}
</svg>
`
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
