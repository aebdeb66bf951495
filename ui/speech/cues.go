package speech

import (
	"math"
	"slices"
	"time"
)

// cueRate is the sample rate of the cue sounds; 22050 Hz is espeak-ng's own
// rate, so a browser never resamples between a cue and the speech after it.
const cueRate = 22050

// fade is applied at both ends of every tone so it starts and stops without
// an audible click.
const fade = 5 * time.Millisecond

// tone is one segment of a cue: a frequency (0 = silence) for a time.
type tone struct {
	hz    float64
	dur   time.Duration
	amp   float64 // 0..1 of full scale
	buzz  bool    // add odd harmonics, for a harsher error sound
	decay bool    // exponential decay, for a percussive click
}

// cueScores are the four moments that get a sound. They are kept apart by
// pitch and length so that someone who cannot read the screen learns them:
// rising = good (card read, printed), low = something is wrong, click = touch.
var cueScores = map[string][]tone{
	// Two rising tones: the card was read.
	"card": {{hz: 660, dur: 90 * time.Millisecond, amp: 0.5}, {hz: 880, dur: 90 * time.Millisecond, amp: 0.5}},
	// Three ascending notes (C6, E6, G6), a small fanfare: take your receipt.
	"printed": {
		{hz: 1047, dur: 110 * time.Millisecond, amp: 0.45}, {dur: 30 * time.Millisecond},
		{hz: 1319, dur: 110 * time.Millisecond, amp: 0.45}, {dur: 30 * time.Millisecond},
		{hz: 1568, dur: 180 * time.Millisecond, amp: 0.45},
	},
	// A low double buzz.
	"error": {
		{hz: 220, dur: 150 * time.Millisecond, amp: 0.55, buzz: true}, {dur: 80 * time.Millisecond},
		{hz: 220, dur: 150 * time.Millisecond, amp: 0.55, buzz: true},
	},
	// A short percussive click for a touch.
	"tap": {{hz: 2000, dur: 30 * time.Millisecond, amp: 0.8, decay: true}},
}

// cueWAVs holds the rendered cues; built once at package init, read only after.
var cueWAVs = renderCues()

func renderCues() map[string][]byte {
	out := make(map[string][]byte, len(cueScores))
	for name, score := range cueScores {
		var samples []int16
		for _, t := range score {
			samples = append(samples, synth(t)...)
		}
		out[name] = encodeWAV(samples, cueRate)
	}
	return out
}

func synth(t tone) []int16 {
	n := int(t.dur * cueRate / time.Second)
	s := make([]int16, n)
	if t.hz == 0 {
		return s
	}
	ramp := int(fade * cueRate / time.Second)
	for i := range s {
		x := 2 * math.Pi * t.hz * float64(i) / cueRate
		v := math.Sin(x)
		if t.buzz {
			// First odd harmonics of a square wave: buzzy but not harsh, and
			// the fundamental still dominates the zero crossings.
			v = (math.Sin(x) + math.Sin(3*x)/3 + math.Sin(5*x)/5) * 0.8
		}
		g := t.amp
		if t.decay {
			g *= math.Exp(-float64(i) / (float64(n) / 4))
		}
		switch {
		case i < ramp:
			g *= float64(i) / float64(ramp)
		case i >= n-ramp:
			g *= float64(n-1-i) / float64(ramp)
		}
		s[i] = int16(math.Round(v * g * math.MaxInt16))
	}
	return s
}

// Cues lists the names Cue accepts, sorted.
func Cues() []string {
	names := make([]string, 0, len(cueWAVs))
	for name := range cueWAVs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Cue returns the short sound for a moment of the session (see Cues) as a
// 16-bit mono 22050 Hz WAV, and false for an unknown name. The caller owns
// the returned slice.
func (s *Speaker) Cue(name string) ([]byte, bool) {
	b, ok := cueWAVs[name]
	if !ok {
		return nil, false
	}
	return slices.Clone(b), true
}
