"""The knowledge-base mock: policy and FAQ articles with search."""
