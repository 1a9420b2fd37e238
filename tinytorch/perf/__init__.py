"""Systems toolkit: where time and memory go, measured (profiler, line and memory profiling,
roofline, benchmark harness)."""

from .bench import Report, Result, Timing, bootstrap_ci, compare, measure
from .lines import line_profile
from .memory import memory_timeline, timeline_figure
from .profiler import Event, Profile, profile
from .roofline import machine_peaks, roofline_figure, roofline_points
