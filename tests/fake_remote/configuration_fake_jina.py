"""Config of the fake Jina remote-code models used by tests/test_vision_models.py."""

from transformers import PretrainedConfig


class FakeJinaConfig(PretrainedConfig):
    model_type = "fake_jina"

    def __init__(
        self,
        hidden_size: int = 32,
        multi_vector_projector_dim: int = 8,
        projection_dim: int = 32,
        matryoshka_dims: tuple = (128, 256, 512, 1024),
        task_names: tuple = ("retrieval", "text-matching", "code"),
        task_instructions: dict | None = None,
        **kwargs,
    ) -> None:
        self.hidden_size = hidden_size
        self.multi_vector_projector_dim = multi_vector_projector_dim
        self.projection_dim = projection_dim
        self.matryoshka_dims = list(matryoshka_dims)
        self.task_names = list(task_names)
        self.task_instructions = task_instructions or {
            "retrieval.query": "Represent the query for retrieving evidence documents: ",
            "retrieval.passage": "Represent the document for retrieval: ",
        }
        super().__init__(**kwargs)
