package hpa

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

// PodInfo is what the replica calculator needs of one pod of the target.
type PodInfo struct {
	Name string
	// Phase, Deleting: failed and deleting pods are ignored; pending ones count as
	// unready.
	Phase    api.PodPhase
	Deleting bool
	// StartTime is nil until the kubelet set it.
	StartTime *sim.Time
	// Ready is the pod's Ready condition, nil when absent.
	Ready *api.PodCondition
	// Request is the pod's request of the metric's resource (sum over its
	// containers); MissingRequest is set when a container has none.
	Request        int64
	MissingRequest string
}

// Metric is one pod's usage sample (from its PodMetrics): CPU in millicores, memory
// in bytes.
type Metric struct {
	Value     int64
	Timestamp sim.Time
	Window    time.Duration
}

// CalcParams are the controller flags the calculator uses.
type CalcParams struct {
	Tolerance               float64
	CPUInitializationPeriod time.Duration
	InitialReadinessDelay   time.Duration
	Now                     sim.Time
}

// Proposal is one metric's replica proposal and how it was reached.
type Proposal struct {
	Replicas int32
	// Utilization is the average utilization in percent of the request (for a
	// utilization target), or the average value (for an average-value target),
	// computed before any substitution, as the HPA status reports it.
	Utilization int64
	// Explain is the arithmetic, for the trace.
	Explain string
}

// groupPods sorts the pods as upstream's groupPods does
// (pkg/controller/podautoscaler/replica_calculator.go): deleting and failed pods are
// ignored; pending pods are unready; pods without a metric are missing; for CPU a
// pod is unready when it has no Ready condition or start time, or, inside the CPU
// initialization period, when it is not Ready or its metric's window began before
// it turned Ready; after that period, when it is not Ready and turned so within the
// initial readiness delay of its start (it never became ready).
func groupPods(pods []PodInfo, metrics map[string]Metric, resource string, p CalcParams) (ready int, unready, missing, ignored []string) {
	for i := range pods {
		pod := &pods[i]
		if pod.Deleting || pod.Phase == api.PodFailed {
			ignored = append(ignored, pod.Name)
			continue
		}
		if pod.Phase == api.PodPending {
			unready = append(unready, pod.Name)
			continue
		}
		m, ok := metrics[pod.Name]
		if !ok {
			missing = append(missing, pod.Name)
			continue
		}
		if resource == "cpu" {
			var isUnready bool
			c := pod.Ready
			switch {
			case c == nil || pod.StartTime == nil:
				isUnready = true
			case pod.StartTime.Add(p.CPUInitializationPeriod) > p.Now:
				isUnready = c.Status == api.ConditionFalse || m.Timestamp < c.LastTransitionTime.Add(m.Window)
			default:
				isUnready = c.Status == api.ConditionFalse && pod.StartTime.Add(p.InitialReadinessDelay) > c.LastTransitionTime
			}
			if isUnready {
				unready = append(unready, pod.Name)
				continue
			}
		}
		ready++
	}
	return ready, unready, missing, ignored
}

// ErrNoMetrics is the calculator's error when no pod has a usable metric.
var errNoMetrics = fmt.Errorf("did not receive metrics for targeted pods (pods might be unready)")

// ResourceReplicas computes the proposal of a Resource metric for a target with
// currentReplicas, as upstream's GetResourceReplicas (utilization target) or
// GetRawResourceReplicas (average-value target) do. Exactly one of
// targetUtilization (> 0, percent) and targetAverage (> 0) is used.
func ResourceReplicas(currentReplicas int32, targetUtilization int32, targetAverage int64, resource string,
	pods []PodInfo, metricsIn map[string]Metric, p CalcParams) (Proposal, error) {
	if len(pods) == 0 {
		return Proposal{}, fmt.Errorf("no pods returned by selector while calculating replica count")
	}
	metrics := make(map[string]Metric, len(metricsIn))
	for k, v := range metricsIn {
		metrics[k] = v
	}
	// keep only the metrics of the target's pods
	requests := make(map[string]int64, len(pods))
	known := make(map[string]bool, len(pods))
	for i := range pods {
		known[pods[i].Name] = true
	}
	for k := range metrics {
		if !known[k] {
			delete(metrics, k)
		}
	}
	ready, unready, missing, ignored := groupPods(pods, metrics, resource, p)
	for _, n := range ignored {
		delete(metrics, n)
	}
	for _, n := range unready {
		delete(metrics, n)
	}
	if len(metrics) == 0 {
		return Proposal{}, errNoMetrics
	}
	util := targetUtilization > 0
	if util {
		for i := range pods {
			if pods[i].MissingRequest != "" {
				return Proposal{}, fmt.Errorf("missing request for %s in container %s of Pod %s", resource, pods[i].MissingRequest, pods[i].Name)
			}
			requests[pods[i].Name] = pods[i].Request
		}
	}
	names := make([]string, 0, len(metrics))
	for k := range metrics {
		names = append(names, k)
	}
	slices.Sort(names)
	// ratio computes the usage ratio of the metrics present (sorted iteration: the
	// integer sums are order-free anyway).
	ratio := func() (float64, int64, error) {
		var total, reqTotal, n int64
		for _, k := range names {
			m := metrics[k]
			if util {
				r, ok := requests[k]
				if !ok {
					continue
				}
				reqTotal += r
			}
			total += m.Value
			n++
		}
		if util {
			if reqTotal == 0 {
				return 0, 0, fmt.Errorf("no metrics returned matched known pods")
			}
			u := total * 100 / reqTotal // whole percent, as upstream
			return float64(u) / float64(targetUtilization), u, nil
		}
		avg := total / n
		return float64(avg) / float64(targetAverage), avg, nil
	}
	usageRatio, utilization, err := ratio()
	if err != nil {
		return Proposal{}, err
	}
	what := func(u int64) string {
		if util {
			return fmt.Sprintf("%s %d%% of request vs target %d%%", resource, u, targetUtilization)
		}
		return fmt.Sprintf("%s average %d vs target %d", resource, u, targetAverage)
	}
	prop := Proposal{Utilization: utilization}
	scaleUpWithUnready := len(unready) > 0 && usageRatio > 1.0
	if !scaleUpWithUnready && len(missing) == 0 {
		if math.Abs(1.0-usageRatio) <= p.Tolerance {
			prop.Replicas = currentReplicas
			prop.Explain = fmt.Sprintf("%s → ratio %.2f within tolerance %.2f → keep %d", what(utilization), usageRatio, p.Tolerance, currentReplicas)
			return prop, nil
		}
		prop.Replicas = int32(math.Ceil(usageRatio * float64(ready)))
		prop.Explain = fmt.Sprintf("%s → ratio %.2f → desired ceil(%.2f × %d ready) = %d", what(utilization), usageRatio, usageRatio, ready, prop.Replicas)
		return prop, nil
	}
	// Substitute for the missing and unready pods, then recompute.
	var subst string
	if len(missing) > 0 {
		if usageRatio < 1.0 {
			// scale-down: a missing pod counts as using 100 % of its request (or the
			// target, if higher)
			for _, n := range missing {
				if util {
					fb := int64(max(100, targetUtilization))
					metrics[n] = Metric{Value: requests[n] * fb / 100}
				} else {
					metrics[n] = Metric{Value: targetAverage}
				}
				names = append(names, n)
			}
			if util {
				subst += fmt.Sprintf("; %d pods without metrics counted at %d%%", len(missing), max(100, targetUtilization))
			} else {
				subst += fmt.Sprintf("; %d pods without metrics counted at the target", len(missing))
			}
		} else if usageRatio > 1.0 {
			for _, n := range missing {
				metrics[n] = Metric{}
				names = append(names, n)
			}
			subst += fmt.Sprintf("; %d pods without metrics counted at 0%%", len(missing))
		}
	}
	if scaleUpWithUnready {
		for _, n := range unready {
			metrics[n] = Metric{}
			names = append(names, n)
		}
		subst += fmt.Sprintf("; %d unready pods counted at 0%%", len(unready))
	}
	slices.Sort(names)
	newRatio, _, err := ratio()
	if err != nil {
		return Proposal{}, err
	}
	head := fmt.Sprintf("%s → ratio %.2f%s → recomputed ratio %.2f", what(utilization), usageRatio, subst, newRatio)
	if math.Abs(1.0-newRatio) <= p.Tolerance || (usageRatio < 1.0 && newRatio > 1.0) || (usageRatio > 1.0 && newRatio < 1.0) {
		prop.Replicas = currentReplicas
		prop.Explain = head + fmt.Sprintf(" within tolerance or direction flipped → keep %d", currentReplicas)
		return prop, nil
	}
	n := len(metrics)
	newReplicas := int32(math.Ceil(newRatio * float64(n)))
	if (newRatio < 1.0 && newReplicas > currentReplicas) || (newRatio > 1.0 && newReplicas < currentReplicas) {
		prop.Replicas = currentReplicas
		prop.Explain = head + fmt.Sprintf(" → ceil(%.2f × %d) = %d would move against the ratio → keep %d", newRatio, n, newReplicas, currentReplicas)
		return prop, nil
	}
	prop.Replicas = newReplicas
	prop.Explain = head + fmt.Sprintf(" → desired ceil(%.2f × %d pods) = %d", newRatio, n, newReplicas)
	return prop, nil
}

// ---------------------------------------------------------------------------
// Normalization: stabilization windows, scale limits, behavior policies
// (pkg/controller/podautoscaler/horizontal.go).

type timestampedRecommendation struct {
	recommendation int32
	timestamp      sim.Time
}

type timestampedScaleEvent struct {
	replicaChange int32
	timestamp     sim.Time
	outdated      bool
}

// state is the controller's memory of one HPA: its recent recommendations and
// scale events (upstream keeps them in maps keyed by the HPA).
type state struct {
	recommendations []timestampedRecommendation
	scaleUpEvents   []timestampedScaleEvent
	scaleDownEvents []timestampedScaleEvent
}

// Upstream constants (horizontal.go): scale-up limit without behavior.
const (
	scaleUpLimitFactor  = 2.0
	scaleUpLimitMinimum = 4.0
)

// recordInitialRecommendation seeds the recommendations with the current replicas
// on the first sync, as upstream does.
func (s *state) recordInitialRecommendation(current int32, now sim.Time) {
	if s.recommendations == nil {
		s.recommendations = []timestampedRecommendation{{current, now}}
	}
}

// stabilize is upstream's stabilizeRecommendation (no behavior): the maximum of the
// recommendations within the downscale window and the new one, which replaces an
// obsolete sample or is appended.
func (s *state) stabilize(prenormalized int32, window time.Duration, now sim.Time) int32 {
	maxRec := prenormalized
	found, idx := false, 0
	cutoff := now.Add(-window)
	for i, r := range s.recommendations {
		if r.timestamp < cutoff {
			found, idx = true, i
		} else if r.recommendation > maxRec {
			maxRec = r.recommendation
		}
	}
	if found {
		s.recommendations[idx] = timestampedRecommendation{prenormalized, now}
	} else {
		s.recommendations = append(s.recommendations, timestampedRecommendation{prenormalized, now})
	}
	return maxRec
}

// normalize is upstream's normalizeDesiredReplicas (no behavior): stabilization,
// then [min, min(max, max(2·current, 4))].
func (s *state) normalize(current, prenormalized, minR, maxR int32, window time.Duration, now sim.Time) (int32, string) {
	stab := s.stabilize(prenormalized, window, now)
	why := ""
	if stab != prenormalized {
		why = fmt.Sprintf(", max of the recommendations of the last %v (downscale stabilization) = %d", window, stab)
	}
	limit := int32(math.Max(scaleUpLimitFactor*float64(current), scaleUpLimitMinimum))
	maxAllowed, limName := maxR, fmt.Sprintf("maxReplicas %d", maxR)
	if maxR > limit {
		maxAllowed, limName = limit, fmt.Sprintf("scale-up limit max(2·%d, 4) = %d", current, limit)
	}
	d := stab
	switch {
	case d < minR:
		d = minR
		why += fmt.Sprintf(", minReplicas %d → %d", minR, d)
	case d > maxAllowed:
		d = maxAllowed
		why += fmt.Sprintf(", %s → %d", limName, d)
	}
	return d, why
}

// Rules are one direction's behavior with every default filled in.
type Rules struct {
	StabilizationWindow time.Duration
	SelectPolicy        string // Max, Min or Disabled
	Policies            []api.HPAScalingPolicy
}

// DefaultScaleUp and DefaultScaleDown return the autoscaling/v2 behavior defaults
// (pkg/apis/autoscaling/v2/defaults.go GenerateHPAScaleUpRules /
// GenerateHPAScaleDownRules); a scale-down window left unset takes the controller's
// downscale stabilization flag (maybeInitScaleDownStabilizationWindow).
func DefaultScaleUp() Rules {
	return Rules{StabilizationWindow: 0, SelectPolicy: "Max", Policies: []api.HPAScalingPolicy{
		{Type: api.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
		{Type: api.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
	}}
}

// DefaultScaleDown: see DefaultScaleUp.
func DefaultScaleDown(window time.Duration) Rules {
	return Rules{StabilizationWindow: window, SelectPolicy: "Max", Policies: []api.HPAScalingPolicy{
		{Type: api.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
	}}
}

// fillRules applies the defaults to the fields r leaves unset.
func fillRules(r *api.HPAScalingRules, def Rules) Rules {
	out := def
	if r == nil {
		return out
	}
	if r.StabilizationWindowSeconds != nil {
		out.StabilizationWindow = time.Duration(*r.StabilizationWindowSeconds) * time.Second
	}
	if r.SelectPolicy != "" {
		out.SelectPolicy = r.SelectPolicy
	}
	if len(r.Policies) > 0 {
		out.Policies = r.Policies
	}
	return out
}

// stabilizeWithBehaviors is upstream's stabilizeRecommendationWithBehaviors: the
// recommendation is kept between the minimum of the scale-up window's
// recommendations and the maximum of the scale-down window's.
func (s *state) stabilizeWithBehaviors(current, desired int32, up, down Rules, now sim.Time) int32 {
	upRec, downRec := desired, desired
	upCutoff, downCutoff := now.Add(-up.StabilizationWindow), now.Add(-down.StabilizationWindow)
	obsoleteCutoff := now.Add(-max(up.StabilizationWindow, down.StabilizationWindow))
	found, idx := false, 0
	for i, r := range s.recommendations {
		if r.timestamp > upCutoff {
			upRec = min(r.recommendation, upRec)
		}
		if r.timestamp > downCutoff {
			downRec = max(r.recommendation, downRec)
		}
		if r.timestamp < obsoleteCutoff {
			found, idx = true, i
		}
	}
	rec := current
	if rec < upRec {
		rec = upRec
	}
	if rec > downRec {
		rec = downRec
	}
	if found {
		s.recommendations[idx] = timestampedRecommendation{desired, now}
	} else {
		s.recommendations = append(s.recommendations, timestampedRecommendation{desired, now})
	}
	return rec
}

func replicasChangePerPeriod(periodSeconds int32, events []timestampedScaleEvent, now sim.Time) int32 {
	cutoff := now.Add(-time.Duration(periodSeconds) * time.Second)
	var n int32
	for _, e := range events {
		if e.timestamp > cutoff {
			n += e.replicaChange
		}
	}
	return n
}

// scaleUpLimit is upstream's calculateScaleUpLimitWithScalingRules.
func (s *state) scaleUpLimit(current int32, r Rules, now sim.Time) (int32, string) {
	if r.SelectPolicy == "Disabled" {
		return current, "scale-up disabled"
	}
	pick := func(a, b int32) int32 { return max(a, b) }
	result := int32(math.MinInt32)
	if r.SelectPolicy == "Min" {
		pick, result = func(a, b int32) int32 { return min(a, b) }, math.MaxInt32
	}
	var parts []string
	for _, p := range r.Policies {
		added := replicasChangePerPeriod(p.PeriodSeconds, s.scaleUpEvents, now)
		deleted := replicasChangePerPeriod(p.PeriodSeconds, s.scaleDownEvents, now)
		start := current - added + deleted
		var proposed int32
		if p.Type == api.PodsScalingPolicy {
			proposed = start + p.Value
		} else {
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		parts = append(parts, fmt.Sprintf("%s %d/%ds → %d", p.Type, p.Value, p.PeriodSeconds, proposed))
		result = pick(result, proposed)
	}
	return result, fmt.Sprintf("%s of [%s]", r.SelectPolicy, join(parts))
}

// scaleDownLimit is upstream's calculateScaleDownLimitWithBehaviors.
func (s *state) scaleDownLimit(current int32, r Rules, now sim.Time) (int32, string) {
	if r.SelectPolicy == "Disabled" {
		return current, "scale-down disabled"
	}
	pick := func(a, b int32) int32 { return min(a, b) }
	result := int32(math.MaxInt32)
	if r.SelectPolicy == "Min" {
		pick, result = func(a, b int32) int32 { return max(a, b) }, math.MinInt32
	}
	var parts []string
	for _, p := range r.Policies {
		added := replicasChangePerPeriod(p.PeriodSeconds, s.scaleUpEvents, now)
		deleted := replicasChangePerPeriod(p.PeriodSeconds, s.scaleDownEvents, now)
		start := current - added + deleted
		var proposed int32
		if p.Type == api.PodsScalingPolicy {
			proposed = start - p.Value
		} else {
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		parts = append(parts, fmt.Sprintf("%s %d/%ds → %d", p.Type, p.Value, p.PeriodSeconds, proposed))
		result = pick(result, proposed)
	}
	return result, fmt.Sprintf("%s of [%s]", r.SelectPolicy, join(parts))
}

func join(parts []string) string {
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += ", "
		}
		out += p
	}
	return out
}

// normalizeWithBehaviors is upstream's normalizeDesiredReplicasWithBehaviors:
// stabilization within both windows, then the policies' rate limits, then [min, max].
func (s *state) normalizeWithBehaviors(current, prenormalized, minR, maxR int32, up, down Rules, now sim.Time) (int32, string) {
	d := s.stabilizeWithBehaviors(current, prenormalized, up, down, now)
	why := ""
	if d != prenormalized {
		why = fmt.Sprintf(", stabilized (up window %v, down window %v) = %d", up.StabilizationWindow, down.StabilizationWindow, d)
	}
	switch {
	case d > current:
		limit, how := s.scaleUpLimit(current, up, now)
		if limit < current {
			limit = current
		}
		maxAllowed, name := maxR, fmt.Sprintf("maxReplicas %d", maxR)
		if maxAllowed > limit {
			maxAllowed, name = limit, "scale-up policies "+how
		}
		if d > maxAllowed {
			d = maxAllowed
			why += fmt.Sprintf(", %s → %d", name, d)
		}
	case d < current:
		limit, how := s.scaleDownLimit(current, down, now)
		if limit > current {
			limit = current
		}
		minAllowed, name := minR, fmt.Sprintf("minReplicas %d", minR)
		if minAllowed < limit {
			minAllowed, name = limit, "scale-down policies "+how
		}
		if d < minAllowed {
			d = minAllowed
			why += fmt.Sprintf(", %s → %d", name, d)
		}
	}
	return d, why
}

// longestPeriod is the longest policy period of r, in seconds.
func longestPeriod(r Rules) int32 {
	var m int32
	for _, p := range r.Policies {
		m = max(m, p.PeriodSeconds)
	}
	return m
}

// storeScaleEvent is upstream's storeScaleEvent: events older than the longest
// policy period are reused before a new one is appended.
func (s *state) storeScaleEvent(up, down Rules, prev, next int32, now sim.Time) {
	store := func(events []timestampedScaleEvent, period int32, change int32) []timestampedScaleEvent {
		cutoff := now.Add(-time.Duration(period) * time.Second)
		for i := range events {
			if events[i].timestamp < cutoff {
				events[i].outdated = true
			}
		}
		for i := range events {
			if events[i].outdated {
				events[i] = timestampedScaleEvent{change, now, false}
				return events
			}
		}
		return append(events, timestampedScaleEvent{change, now, false})
	}
	if next > prev {
		s.scaleUpEvents = store(s.scaleUpEvents, longestPeriod(up), next-prev)
	} else {
		s.scaleDownEvents = store(s.scaleDownEvents, longestPeriod(down), prev-next)
	}
}
