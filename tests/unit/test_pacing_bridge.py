from ari_app.services.pacing_bridge import pickup_rate_calls


class C:
    def __init__(self, pickup_rate, max_lines=3.0):
        self.pickup_rate, self.max_lines_per_agent = pickup_rate, max_lines


def test_given_half_pickup_rate_then_two_calls_per_ready_agent_minus_calls_in_flight():
    assert pickup_rate_calls(C(0.5), ready_agents=3, in_flight=0, reserved=0) == 6
    assert pickup_rate_calls(C(0.5), ready_agents=3, in_flight=4, reserved=0) == 2


def test_given_low_pickup_rate_then_capped_by_max_lines_per_agent_and_reserved_agents_kept_free():
    assert pickup_rate_calls(C(0.1, max_lines=3.0), ready_agents=2, in_flight=0, reserved=0) == 6
    assert pickup_rate_calls(C(0.5), ready_agents=2, in_flight=0, reserved=1) == 2


def test_given_no_ready_agent_then_no_call():
    assert pickup_rate_calls(C(0.5), ready_agents=0, in_flight=0, reserved=0) == 0
