"""The wrk output parser both benchmark commands rely on."""

import pytest

from forum.benchmarking import parse_wrk

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8000/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    41.23ms   12.01ms 180.50ms   80.00%
  Latency Distribution
     50%   38.40ms
     75%   45.10ms
     90%   55.00ms
     99%    1.20s
  3251 requests in 10.01s, 12.3MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:    324.78
Transfer/sec:      1.23MB
"""


def test_rate_percentiles_in_any_unit_and_errors_are_read() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests_per_second == pytest.approx(324.78)
    assert result.p50_ms == pytest.approx(38.4)
    assert result.p99_ms == pytest.approx(1200.0)  # seconds converted
    assert (result.requests, result.non_2xx, result.socket_errors) == (3251, 4, 3)


def test_output_without_a_latency_distribution_is_refused() -> None:
    with pytest.raises(ValueError, match="unexpected wrk output"):
        parse_wrk(WRK_OUTPUT.replace("     99%    1.20s\n", ""))
