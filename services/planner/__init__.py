"""The planner: turns an understood turn into a plan of tool steps, and composes the reply.

Modules: ``planner`` (the per-turn rule: slots, tier, fallback), ``flows`` (the embedded engine's
YAML flows), ``tiers`` (fast tool calling, deep structured plans, streamed replies), ``llm``
(Chat Completions over the ``openai`` SDK), ``prompts`` (versioned templates), ``plans`` (plan
values and checks), ``tools`` (the catalogue seen from the planner), ``servicer``/``service``
(gRPC), ``cli`` (``switchboard planner``).
"""
