/**
 * SPEC §2, checkpoints: safetensors read and written over any Hadoop file system, with their header validated
 * before a byte is read; the OpenCLIP/OpenAI and Hugging Face naming layouts; the configs that give head counts and
 * activations; PEFT LoRA adapters merged (§2, used by §9). Core: no Spark, no command-line vocabulary.
 */
package org.sith.checkpoint;
