# Databricks notebook source
import mlflow

mlflow.set_experiment("/Kyros/shared")
