// Package envname guesses which known environment variable a misspelt one meant. Both the
// service (internal/config) and the pipeline (internal/pipeline/kit/settings) warn about unknown
// SLIPWAY_ variables; it imports the standard library only, so either side may link it.
package envname

// Nearest is the name in known that name is probably a misspelling of, or "" when none is
// close. Close means at most two edits, and fewer than the name's own length past prefix, so
// that a short SLIPWAY_X is not "nearest" to everything.
func Nearest(name, prefix string, known []string) string {
	best, nearest := 3, ""
	for _, k := range known {
		if d := editDistance(name, k); d < best && d < len(name)-len(prefix) {
			best, nearest = d, k
		}
	}
	return nearest
}

// editDistance is the Levenshtein distance between a and b, in bytes (variable names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
