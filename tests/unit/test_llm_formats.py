"""The emulator's LLM streams without a server: each format's documented event shapes, and the planning
of PayloadParts (split and merged at random) that always concatenate back to the events."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.emulator.llmformats import full_response, generate_tokens, render_events
from bench.emulator.llmstream import plan_parts


def test_formats_render_their_documented_shapes() -> None:
    tokens = [" a", " b"]
    assert render_events("ndjson", tokens) == [b'{"outputs": [" a"]}\n', b'{"outputs": [" b"]}\n']
    tgi = render_events("tgi", tokens, first_chunk="empty")
    assert [json.loads(e.removeprefix(b"data:"))["token"]["text"] for e in tgi] == ["", " a", " b"]
    assert [json.loads(e.removeprefix(b"data:"))["generated_text"] for e in tgi] == [None, None, " a b"]
    openai = render_events("openai", tokens, first_chunk="role", prompt_tokens=3)
    assert openai[-1] == b"data: [DONE]\n\n"
    chunks = [json.loads(e.removeprefix(b"data: ")) for e in openai[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["finish_reason"] for c in chunks[:3]] == [None, None, "stop"]
    assert chunks[3]["choices"] == []
    assert chunks[3]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert len(render_events("openai", tokens, usage=False)) == 3
    assert render_events("triton", tokens, model="m")[0] == (
        b'data: {"model_name": "m", "model_version": "1", "text_output": " a"}\n\n'
    )
    assert json.loads(full_response("tgi", tokens)) == [{"generated_text": " a b"}]
    assert json.loads(full_response("openai", tokens, 3))["usage"]["total_tokens"] == 5
    assert generate_tokens("x", 5) == generate_tokens("x", 8)[:5] != generate_tokens("y", 5)


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=40), max_size=30),
    seed=st.integers(min_value=0, max_value=2**32),
    split=st.sampled_from([0.0, 0.3, 1.0]),
    merge=st.sampled_from([0.0, 0.3, 0.9]),
)
def test_planned_parts_always_concatenate_to_the_events(
    sizes: list[int], seed: int, split: float, merge: float
) -> None:
    events = [(bytes([65 + i % 26]) * size, i) for i, size in enumerate(sizes)]
    parts = plan_parts(events, random.Random(seed), split, merge)
    assert b"".join(p.data for p in parts) == b"".join(e for e, _ in events)
    assert all(p.data for p in parts)
    assert [p.token_index for p in parts] == sorted(p.token_index for p in parts)
    if split == merge == 0.0:
        assert [(p.data, p.token_index) for p in parts] == events
