package framework

// DefaultNormalizeScore scales scores to [0, maxPriority] relative to the highest one:
// score = maxPriority·score/maxScore, reversed (maxPriority − that) when reverse is
// set. When every score is 0, all become maxPriority if reverse, else stay 0
// (reference §2.6.4, §2.6.5; pkg/scheduler/framework/plugins/helper/normalize_score.go).
func DefaultNormalizeScore(maxPriority int64, reverse bool, scores []NodeScore) *Status {
	var maxCount int64
	for i := range scores {
		if scores[i].Score > maxCount {
			maxCount = scores[i].Score
		}
	}
	if maxCount == 0 {
		if reverse {
			for i := range scores {
				scores[i].Score = maxPriority
			}
		}
		return nil
	}
	for i := range scores {
		s := maxPriority * scores[i].Score / maxCount
		if reverse {
			s = maxPriority - s
		}
		scores[i].Score = s
	}
	return nil
}
