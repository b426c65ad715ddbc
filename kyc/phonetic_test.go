package kyc

import "testing"

func TestScreenTokenScoreVariantsAndTraps(t *testing.T) {
	tests := []struct {
		a, b string
		eq   bool
		max  float64 // the score must not exceed it (1 when unbounded)
	}{
		{"LEYLA", "LEILA", true, 1},
		{"SMITH", "SMYTHE", true, 1},
		{"MUHAMMAD", "MOHAMED", true, 1},
		{"MUHAMMED", "MOHAMED", true, 1},
		{"NICOLAS", "NICK", true, 1},
		{"NICOLAS", "NIC", true, 1},
		{"IVANOV", "IWANOW", true, 1},
		{"KHALED", "HALED", true, 1},
		{"BINLADIN", "BINLADEN", true, 1},
		{"AMEZCUA", "AMESCUA", true, 1},
		{"ALEKSEY", "ALEXEI", true, 1},
		// Traps: different names.
		{"VLADIMIR", "VLADIMIROV", false, extensionCap},
		{"BROWN", "BROWNING", false, extensionCap},
		{"HADI", "HADID", false, extensionCap},
		{"SHANGFU", "SHANG", false, extensionCap},
		{"SHAKIR", "SHAQIRI", false, 0.9},
		{"JIMENEZ", "DOMINGUEZ", false, 0.9},
		{"MOHAMED", "MAHMOUD", false, 0.9},
		{"LEILA", "LOLA", false, 0.9},
	}
	for _, tt := range tests {
		s, eq := screenTokenScore(tt.a, simplify(tt.a), tt.b, simplify(tt.b), true)
		if eq != tt.eq || s > tt.max {
			t.Errorf("%s/%s: score %.3f equivalent %v; want equivalent %v, score <= %.2f (keys %s %s)",
				tt.a, tt.b, s, eq, tt.eq, tt.max, phoneticKey(tt.a), phoneticKey(tt.b))
		}
	}
}
