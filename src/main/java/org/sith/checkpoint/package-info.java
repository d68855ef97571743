/**
 * SPEC §2, checkpoints: the forms users have (safetensors, sharded safetensors, PyTorch and TorchScript archives read by
 * a restricted pickle interpreter, a folder) read over any Hadoop file system and validated before a tensor is read;
 * the OpenCLIP/OpenAI, Hugging Face and timm namings seen as one ({@link org.sith.checkpoint.ClipTensors}, LayerScale
 * folded); the configs that give head counts and activations; edited checkpoints written back per form; PEFT LoRA
 * adapters merged (§2, used by §9). Core: no Spark, no command-line vocabulary.
 */
package org.sith.checkpoint;
